"""Apply a scenario's shocks to the inputs of a revaluation.

Every function here is the identity, bit for bit, when its shocks are absent; each takes
plain arrays and returns new arrays (inputs are never modified).

Curves: shifts are zero-rate shifts, continuously compounded on ACT/365F times,
``z'(t) = z(t) + (rate_shift_bp + k(t)) / 1e4`` where ``k(t)`` interpolates the key-rate
shifts linearly between their tenors and is flat outside them; so
``DF'(t) = DF(t) exp(-shift(t) t)``. This is exactly QuantLib's
``PiecewiseZeroSpreadedTermStructure`` (linear spreads, flat extrapolation, continuous
compounding) over the base curve; the tests check it against QuantLib.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from risk.scenarios import DOWNTURN_LGD_ADD, Shocks, tenor_years
from valuation._typing import BoolArray, FloatArray

#: Correlations are kept in [0, MAX_CORRELATION] after a shift.
MAX_CORRELATION = 0.999
#: Smallest horizon log-volatility used to measure a collateral move in the PD shift, so
#: that a collateral with (almost) no volatility does not turn any loss into certain default.
MIN_LOG_VOLATILITY = 0.05


# ----------------------------------------------------------------------------- curves
def zero_shift(times_years: FloatArray, shocks: Shocks) -> FloatArray | None:
    """Zero-rate shift (decimal, continuous) at each time, or None when rates are unshocked.

    Parameters
    ----------
    times_years : array (n,)
        Times in years (ACT/365F) from the valuation date.
    shocks : Shocks
        Uses ``rate_shift_bp`` and ``key_rate_shifts_bp``.
    """
    t = np.asarray(times_years, dtype=np.float64)
    parallel = shocks.rate_shift_bp
    keys = shocks.key_rate_shifts_bp
    if (parallel is None or parallel == 0.0) and not keys:
        return None
    out = np.full(t.shape, (parallel or 0.0) / 1e4)
    if keys:
        pts = sorted((tenor_years(k), float(v)) for k, v in keys.items())
        xs = np.array([p[0] for p in pts])
        ys = np.array([p[1] for p in pts]) / 1e4
        out = out + np.interp(t, xs, ys)  # linear inside, flat outside
    return out


def shifted_discount_factors(
    discount_factors: FloatArray,
    times_years: FloatArray,
    shocks: Shocks,
    *,
    spread_bp: float | None = None,
) -> FloatArray:
    """Discount factors after the curve shocks (and an optional extra spread in bp).

    ``DF'(t) = DF(t) * exp(-(zero_shift(t) + spread_bp / 1e4) * t)``.
    """
    df = np.asarray(discount_factors, dtype=np.float64)
    shift = zero_shift(times_years, shocks)
    if spread_bp:
        shift = np.asarray((0.0 if shift is None else shift) + spread_bp / 1e4, dtype=np.float64)
    if shift is None:
        return df
    return df * np.exp(-shift * np.asarray(times_years, dtype=np.float64))


# ----------------------------------------------------------------------------- revenue
def revenue_factors(
    categories: Sequence[str], cross_border: BoolArray, shocks: Shocks
) -> FloatArray | None:
    """Level factor on each asset's revenue: multipliers by category times rights events.

    A rights event ``{category, cross_border, value_factor}`` hits the assets of
    ``category`` whose cross-border right differs from ``cross_border`` (they lose, or
    gain, the right): their revenue, hence value, is multiplied by ``value_factor``.
    Returns None when no asset is affected.
    """
    n = len(categories)
    if (
        shocks.revenue_multiplier is None
        and shocks.usage_multiplier is None
        and not shocks.revenue_multiplier_by_category
        and not shocks.rights_events
    ):
        return None
    cats = np.asarray(categories, dtype=object)
    out = np.full(n, shocks.get("revenue_multiplier", 1.0) * shocks.get("usage_multiplier", 1.0))
    for cat, m in (shocks.revenue_multiplier_by_category or {}).items():
        out[cats == cat] *= float(m)
    xb = np.asarray(cross_border, dtype=bool)
    for e in shocks.rights_events or ():
        out[(cats == e.category) & (xb != e.cross_border)] *= e.value_factor
    return out


def obsolescence_times(uniforms: FloatArray, hazard: FloatArray) -> FloatArray:
    """Exponential obsolescence times in years from common uniforms, ``-ln(U) / h``.

    ``hazard`` (per year) broadcasts against ``uniforms``; a zero hazard never strikes
    (``inf``). With common uniforms a higher hazard strikes earlier on every path.
    """
    u = np.asarray(uniforms, dtype=np.float64)
    h = np.asarray(hazard, dtype=np.float64)
    # a tiny (even subnormal) hazard gives a time beyond any horizon: inf, not a warning
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(h > 0.0, -np.log(u) / np.where(h > 0.0, h, 1.0), np.inf)


def shock_revenue_paths(
    paths: FloatArray,
    shocks: Shocks,
    *,
    level_factor: float,
    half_life_months: float,
    uniforms: FloatArray,
) -> FloatArray:
    """Stress given monthly cash-flow paths of one asset (e.g. from `valuation`'s Monte Carlo).

    Parameters
    ----------
    paths : array (n_paths, n_months)
        Base monthly cash flows (>= 0), month ``k`` paid ``k`` months from now.
    shocks : Shocks
        Uses growth, volatility, obsolescence hazard and half-life shocks.
    level_factor : float
        Revenue level factor (multipliers and rights events; `revenue_factors`).
    half_life_months : float
        The half-life the base paths were simulated with (``inf`` for none).
    uniforms : array (n_paths,)
        Common uniforms for the added obsolescence jump.

    Notes
    -----
    Volatility multiplier ``k``: ``log R' = m_t + k (log R - m_t)`` with ``m_t`` the mean of
    ``log R`` across paths in month ``t`` (paths with zero cash flow stay at zero), then a
    convexity correction keeps the cross-path mean of ``R'`` equal to that of ``R`` so that the
    volatility shock spreads outcomes without moving the centre. Growth shift ``g``: month
    ``k`` times ``exp(g k / 12)``. Half-life ``h -> h m``: times ``0.5 ** (k/(h m) - k/h)``.
    Added hazard ``a``: zero after ``-ln(U)/a`` years.
    """
    r = np.asarray(paths, dtype=np.float64)
    n_months = r.shape[1]
    k = np.arange(1, n_months + 1, dtype=np.float64)
    if level_factor != 1.0:
        r = r * level_factor
    vol = shocks.volatility_multiplier
    if vol is not None and vol != 1.0:
        pos = r > 0.0
        logs = np.log(np.where(pos, r, 1.0))
        cnt = np.maximum(pos.sum(axis=0), 1)
        m_t = (logs * pos).sum(axis=0) / cnt
        new = np.where(pos, np.exp(m_t + vol * (logs - m_t)), 0.0)
        mean_old = r.mean(axis=0)
        mean_new = new.mean(axis=0)
        scale = np.where(mean_new > 0.0, mean_old / np.where(mean_new > 0, mean_new, 1.0), 1.0)
        r = new * scale
    g = shocks.growth_shift
    if g is not None and g != 0.0:
        r = r * np.exp(g * k / 12.0)
    hl = shocks.half_life_multiplier
    if hl is not None and hl != 1.0 and not math.isinf(half_life_months):
        r = r * np.exp2(-(k / (half_life_months * hl) - k / half_life_months))
    add = shocks.obsolescence_hazard_add
    if add is not None and add > 0.0:
        tau = obsolescence_times(uniforms, np.asarray(add, dtype=np.float64))
        r = r * (k[None, :] / 12.0 <= tau[:, None])
    return r


# ----------------------------------------------------------------------------- credit
def stress_pd(
    pd: FloatArray,
    shocks: Shocks,
    value_ratio: FloatArray | None = None,
    log_volatility: FloatArray | None = None,
) -> FloatArray:
    """Stressed one-year PD.

    ``PD' = min(1, pd_multiplier * Phi(Phi^-1(PD) - ln(V'/V) / sigma))``: the collateral's
    value move ``V'/V`` measured in units of its horizon log-volatility ``sigma`` shifts
    the borrower's distance to default (Merton 1974; the KMV distance-to-default), then
    the PD multiplier applies. Where ``V'/V == 1`` the first step is the identity.

    Parameters
    ----------
    pd : array
        Base one-year PD, decimal in (0, 1].
    value_ratio : array, optional
        Stressed over base collateral value (> 0); None for no collateral effect.
    log_volatility : array, optional
        Horizon volatility of log collateral value (floored at `MIN_LOG_VOLATILITY`).
    """
    p = np.asarray(pd, dtype=np.float64)
    if value_ratio is not None:
        ratio = np.asarray(value_ratio, dtype=np.float64)
        sig = np.maximum(np.asarray(log_volatility, dtype=np.float64), MIN_LOG_VOLATILITY)
        moved = ratio != 1.0
        if np.any(moved):
            with np.errstate(divide="ignore"):
                dd = np.log(np.maximum(ratio, 1e-300)) / sig
            p = np.where(moved, ndtr(ndtri(np.minimum(p, 1.0)) - dd), p)
    m = shocks.pd_multiplier
    if m is not None and m != 1.0:
        p = np.minimum(p * m, 1.0)
    return p


def long_run_lgd(lgd: FloatArray, shocks: Shocks) -> FloatArray:
    """Long-run LGD after ``downturn_lgd`` (+`DOWNTURN_LGD_ADD`, capped at 1)."""
    x = np.asarray(lgd, dtype=np.float64)
    if shocks.downturn_lgd:
        x = np.minimum(x + DOWNTURN_LGD_ADD, 1.0)
    return x


def stress_lgd(
    lgd: FloatArray, shocks: Shocks, economic_lgd: FloatArray | None = None
) -> FloatArray:
    """Stressed LGD: ``clip(max(long_run_lgd, economic_lgd) + lgd_add, 0, 1)``.

    The long-run LGD (the regulatory unsecured floor unless better known) is never undercut;
    a collateral shortfall on the default paths (`economic_lgd`) raises it.
    """
    x = long_run_lgd(lgd, shocks)
    if economic_lgd is not None:
        x = np.maximum(x, np.asarray(economic_lgd, dtype=np.float64))
    a = shocks.lgd_add
    if a is not None and a != 0.0:
        x = np.clip(x + a, 0.0, 1.0)
    return x


def stress_correlation(rho: FloatArray | float, shocks: Shocks) -> FloatArray:
    """``clip(rho + correlation_shift, 0, MAX_CORRELATION)``."""
    r = np.asarray(rho, dtype=np.float64)
    s = shocks.correlation_shift
    if s is None or s == 0.0:
        return r
    return np.clip(r + s, 0.0, MAX_CORRELATION)


def stress_liquidation_cost(cost: FloatArray, shocks: Shocks) -> FloatArray:
    """``clip(cost + liquidation_cost_add, 0, 0.99)``."""
    c = np.asarray(cost, dtype=np.float64)
    a = shocks.liquidation_cost_add
    if a is None or a == 0.0:
        return c
    return np.clip(c + a, 0.0, 0.99)
