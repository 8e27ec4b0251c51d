"""The large homogeneous pool (Vasicek) limit and the checks shared by the portfolio models.

`vasicek_tranche_loss` (published as `credit.portfolio.vasicek_tranche_loss`) is the expected
loss of a tranche ``[A, D]`` of a large homogeneous pool as a fraction of its width, in closed
form through the bivariate normal distribution (`bivariate_normal_cdf`, by Owen's T function);
`vasicek_loss_quantile` and `vasicek_loss_cdf` give the pool loss distribution of the limit.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri, owens_t

from valuation._typing import FloatArray
from valuation.errors import ConventionError

# ----------------------------------------------------------------------------- helpers


def _positive_array(values: object, field: str, *, allow_zero: bool = False) -> FloatArray:
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError):
        raise ConventionError(
            f"The `{field}` must be numbers. Got {values!r}.", field=field
        ) from None
    if arr.ndim != 1 or arr.size == 0:
        raise ConventionError(f"The `{field}` must be a non-empty 1-d array.", field=field)
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        rule = "non-negative" if allow_zero else "positive"
        raise ConventionError(
            f"The `{field}` must be finite and {rule}. Got {arr[bad][0]!r} at index "
            f"{int(np.flatnonzero(bad)[0])}.",
            field=field,
        )
    return arr


def _check_probability(value: float, field: str, *, closed: bool = False) -> float:
    v = float(value)
    ok = (0.0 <= v <= 1.0) if closed else (0.0 < v < 1.0)
    if not math.isfinite(v) or not ok:
        interval = "[0, 1]" if closed else "(0, 1)"
        raise ConventionError(
            f"The `{field}` must be a decimal in {interval}. Got {value!r}; was a percentage passed?",
            field=field,
        )
    return v


def bivariate_normal_cdf(h: float, k: float, r: float) -> float:
    """P(X <= h, Y <= k) for standard normals with correlation ``r`` (Owen's T formula).

    Notes
    -----
    ``Phi2(h, k; r) = (Phi(h) + Phi(k))/2 - T(h, a_h) - T(k, a_k) - beta`` with
    ``a_h = (k - r h)/(h sqrt(1 - r^2))``, ``a_k = (h - r k)/(k sqrt(1 - r^2))`` and
    ``beta = 1/2`` when ``h k < 0`` or (``h k = 0`` and ``h + k < 0``), else 0
    (Owen 1956, eq. 3.1).
    """
    if not -1.0 < r < 1.0:
        raise ConventionError(f"The correlation `r` must be in (-1, 1). Got {r!r}.", field="rho")
    if h == -math.inf or k == -math.inf:
        return 0.0
    if h == math.inf:
        return float(ndtr(k))
    if k == math.inf:
        return float(ndtr(h))
    # |h|, |k| below 1e-15 change Phi2 by less than 1e-15: treat them as 0 (avoids 0 * inf)
    h = 0.0 if abs(h) < 1e-15 else h
    k = 0.0 if abs(k) < 1e-15 else k
    if h == 0.0 and k == 0.0:
        return 0.25 + math.asin(r) / (2.0 * math.pi)
    s = math.sqrt(1.0 - r * r)

    def t_term(x: float, y: float) -> float:
        # T(x, (y - r x) / (x s)); the x = 0 limit is T(0, +-inf) = +-1/4.
        if x == 0.0:
            num = y
            return 0.25 * math.copysign(1.0, num) if num != 0.0 else 0.0
        return float(owens_t(x, (y - r * x) / (x * s)))

    opposite = (h < 0.0 < k) or (k < 0.0 < h)
    beta = 0.5 if (opposite or ((h == 0.0 or k == 0.0) and h + k < 0.0)) else 0.0
    value = 0.5 * (float(ndtr(h)) + float(ndtr(k))) - t_term(h, k) - t_term(k, h) - beta
    return min(max(value, 0.0), 1.0)


# ----------------------------------------------------------------------------- LHP


def _lhp_call(pd: float, rho: float, lgd: float, strike: float) -> float:
    """E[(L - strike)^+] for the LHP pool loss fraction ``L = lgd X`` (X Vasicek)."""
    if strike <= 0.0:
        return lgd * pd - strike
    if lgd <= 0.0 or strike >= lgd:
        return 0.0
    x = strike / lgd
    c = float(ndtri(pd))
    if rho == 0.0:
        return max(lgd * pd - strike, 0.0)
    # X > x  <=>  M < m*;  E[X 1{M < m*}] = Phi2(c, m*; sqrt(rho))
    m_star = (c - math.sqrt(1.0 - rho) * float(ndtri(x))) / math.sqrt(rho)
    call = bivariate_normal_cdf(c, m_star, math.sqrt(rho)) - x * float(ndtr(m_star))
    return lgd * max(call, 0.0)


def _bivariate_normal_cdf_array(h: float, k: FloatArray, r: float) -> FloatArray:
    """`bivariate_normal_cdf` for one ``h`` and an array of ``k`` (same Owen's T formula)."""
    k = np.where(np.abs(k) < 1e-15, 0.0, np.asarray(k, dtype=np.float64))
    h = 0.0 if abs(h) < 1e-15 else float(h)
    s = math.sqrt(1.0 - r * r)
    out = np.empty_like(k)
    pos_inf, neg_inf = k == np.inf, k == -np.inf
    finite = ~(pos_inf | neg_inf)
    kf = k[finite]
    with np.errstate(divide="ignore", invalid="ignore"):
        if h == 0.0:
            t_h = np.where(kf == 0.0, 0.0, 0.25 * np.sign(kf))
        else:
            t_h = owens_t(h, (kf - r * h) / (h * s))
        safe_k = np.where(kf == 0.0, 1.0, kf)
        t_k = np.where(
            kf == 0.0,
            0.25 * np.sign(h) if h != 0.0 else 0.0,
            owens_t(kf, (h - r * kf) / (safe_k * s)),
        )
    opposite = ((h < 0.0) & (kf > 0.0)) | ((kf < 0.0) & (h > 0.0))
    zero_case = ((h == 0.0) | (kf == 0.0)) & (h + kf < 0.0)
    beta = np.where(opposite | zero_case, 0.5, 0.0)
    val = 0.5 * (float(ndtr(h)) + ndtr(kf)) - t_h - t_k - beta
    if h == 0.0:
        val = np.where(kf == 0.0, 0.25 + math.asin(r) / (2.0 * math.pi), val)
    out[finite] = np.clip(val, 0.0, 1.0)
    out[pos_inf] = float(ndtr(h))
    out[neg_inf] = 0.0
    return out


def _lhp_calls(pd: float, rho: float, lgd: float, strikes: FloatArray) -> FloatArray:
    """`_lhp_call` for an array of strikes in [0, lgd]."""
    x = np.clip(np.asarray(strikes, dtype=np.float64) / lgd, 0.0, 1.0)
    c = float(ndtri(pd))
    with np.errstate(divide="ignore"):
        m = (c - math.sqrt(1.0 - rho) * ndtri(x)) / math.sqrt(rho)
    call = _bivariate_normal_cdf_array(c, m, math.sqrt(rho)) - x * ndtr(m)
    call = lgd * np.maximum(call, 0.0)
    return np.where(x <= 0.0, lgd * pd, np.where(x >= 1.0, 0.0, call))


def vasicek_tranche_loss(
    pd: float, rho: float, recovery: float, attach: float, detach: float
) -> float:
    """Return the expected tranche loss of a large homogeneous pool.

    Expected tranche loss as a fraction of tranche notional, large homogeneous pool.

    Parameters
    ----------
    pd : float
        Default probability of every name over the horizon, decimal in (0, 1).
    rho : float
        Asset correlation in [0, 1) (factor loading ``sqrt(rho)``).
    recovery : float
        Recovery rate in [0, 1]; pool loss = (1 - recovery) x default fraction.
    attach, detach : float
        Tranche attachment and detachment as fractions of the pool, 0 <= attach < detach <= 1.

    Returns
    -------
    float
        ``(E[(L - A)^+] - E[(L - D)^+]) / (D - A)``.

    Notes
    -----
    With ``c = Phi^{-1}(pd)`` and ``x = K / (1 - R)``,
    ``E[(L - K)^+] = (1 - R) [Phi2(c, m; sqrt(rho)) - x Phi(m)]``,
    ``m = (c - sqrt(1 - rho) Phi^{-1}(x)) / sqrt(rho)`` (Vasicek 2002).

    Examples
    --------
    >>> round(vasicek_tranche_loss(0.005, 0.05, 0.2, 0.0, 0.03), 10)
    0.133322191
    """
    pd = _check_probability(pd, "pd")
    rho = float(rho)
    if not (math.isfinite(rho) and 0.0 <= rho < 1.0):
        raise ConventionError(
            f"The `rho` must be a correlation in [0, 1). Got {rho!r}.", field="rho"
        )
    recovery = _check_probability(recovery, "recovery", closed=True)
    attach = _check_probability(attach, "attach", closed=True)
    detach = _check_probability(detach, "detach", closed=True)
    if not detach > attach:
        raise ConventionError(
            f"The `detach` must exceed `attach`. Got attach={attach!r}, detach={detach!r}.",
            field="detach",
        )
    lgd = 1.0 - recovery
    el = _lhp_call(pd, rho, lgd, attach) - _lhp_call(pd, rho, lgd, detach)
    return min(max(el / (detach - attach), 0.0), 1.0)


def vasicek_loss_quantile(pd: float, rho: float, recovery: float, confidence: float) -> float:
    """Quantile of the LHP pool loss fraction: ``(1-R) Phi((Phi^{-1}(pd) + sqrt(rho) Phi^{-1}(q)) / sqrt(1-rho))``."""
    pd = _check_probability(pd, "pd")
    q = _check_probability(confidence, "confidence")
    if not 0.0 <= rho < 1.0:
        raise ConventionError(
            f"The `rho` must be a correlation in [0, 1). Got {rho!r}.", field="rho"
        )
    recovery = _check_probability(recovery, "recovery", closed=True)
    x = ndtr((ndtri(pd) + math.sqrt(rho) * ndtri(q)) / math.sqrt(1.0 - rho))
    return float((1.0 - recovery) * x)


def vasicek_loss_cdf(x: FloatArray | float, pd: float, rho: float, recovery: float) -> FloatArray:
    """P(L <= x) for the LHP pool loss fraction ``L`` (``x`` in [0, 1 - recovery])."""
    lgd = 1.0 - recovery
    xs = np.clip(np.asarray(x, dtype=np.float64) / lgd, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        out = ndtr((math.sqrt(1.0 - rho) * ndtri(xs) - ndtri(pd)) / math.sqrt(rho))
    return np.asarray(out, dtype=np.float64)
