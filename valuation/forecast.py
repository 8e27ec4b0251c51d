"""Revenue forecasts: trend models, model selection, seasonality, obsolescence.

Models are fitted on the log of the monthly series (month index ``t = 0, 1, ...``
from the series start), by least squares on the usable months (observed, not
outliers, positive):

- ``log_linear``:  ``ln y = a + b t``                              (2 parameters)
- ``logistic``:    ``ln y = ln K - ln(1 + exp(-r (t - t0)))``      (3 parameters)
- ``gompertz``:    ``ln y = ln K - exp(-r (t - t0))``               (3 parameters)

each optionally with 12 calendar-month seasonal log factors (11 free parameters,
mean zero) when the series has at least `SEASONAL_MIN_MONTHS` usable months. The
candidate with the lowest AIC ``n ln(RSS / n) + 2 (k + 1)`` wins (BIC reported too);
the residual variance is floored at ``1e-12`` so an exact fit prefers the simpler
model, and a saturating fit whose level ``K`` lies more than 50 times above the data
is discarded (not identified: exponential growth in disguise). The forecast of month ``t`` is the mean of a lognormal around the fit,
``exp(fit(t) + s(t) + sigma_resid^2 / 2)``. Beyond the last fitted month the trend's
monthly log increments are damped geometrically (Gardner and McKenzie's damped
trend): the ``j``-th month ahead adds ``damping ** j`` times the model's increment, so
an exponential trend levels off instead of compounding for the whole economic life
(``damping = 1`` turns this off; a constant series is unaffected).

Volatility for simulation: ``sigma_month`` is the residual volatility of the fit, the
standard deviation of log values about the fitted path (degrees of freedom
corrected); the Monte Carlo engine uses it as the monthly log-innovation volatility.

The level the forecast starts from follows the latest data (``level_factor``):

- level shift: the last 1-3 observed months are compared with a fit made without them;
  when each of the last ``k`` lies below 1/1.5 (or above 1.5 times) that fit, and more
  than ``3 sigma / sqrt(k)`` away in logs, the trend's shape is fitted without those
  months and its level is set to theirs:
  ``level_factor = mean(observed) / mean(fitted)`` over the shifted months. A revenue
  that fell 90 % in its last months is forecast at the new level, and a revenue that
  stopped (zero months at the end, longer than any earlier gap) is forecast at zero;
- intermittent revenue: zero months are data; the share of months with revenue among
  the observed months of the last year (before any shift) multiplies the level.

A series with at least `MIN_HISTORY_MONTHS` observed months that ends in zero months
is forecast at zero even when it has too few positive months to fit a shape.

Obsolescence: cash flow of month ``k`` is multiplied by ``0.5 ** (k / H)``; the
default half-life ``H`` comes from the asset's timeliness and refresh profile
(`default_half_life_months`), and can be overridden.

References
----------
China Appraisal Society, *Guidance on Data Asset Appraisal* (2023), income approach:
forecast of income, income period, obsolescence.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

import numpy as np
from scipy.optimize import least_squares

from valuation._typing import FloatArray, IntArray
from valuation.asset import AssetProfile
from valuation.conventions import month_index
from valuation.errors import InsufficientDataError
from valuation.signals import CleanSignals, MonthlySeries, require_months

TrendModel = Literal["log_linear", "logistic", "gompertz"]
SEASONAL_MIN_MONTHS = 24
MIN_HISTORY_MONTHS = 12  # months of revenue (or usage) a forecast needs
MIN_PRICE_MONTHS = 3  # months with both revenue and usage to infer a unit price
_VAR_FLOOR = 1e-12
_SATURATION_LIMIT = math.log(50.0)  # saturating fits must level off within 50x the data


def _log_linear(p: FloatArray, t: FloatArray) -> FloatArray:
    return np.asarray(p[0] + p[1] * t, dtype=np.float64)


def _rate(rho: float) -> float:
    return math.exp(min(max(float(rho), -12.0), 3.0))


def _logistic(p: FloatArray, t: FloatArray) -> FloatArray:
    return np.asarray(p[0] - np.logaddexp(0.0, -_rate(p[1]) * (t - p[2])), dtype=np.float64)


def _gompertz(p: FloatArray, t: FloatArray) -> FloatArray:
    return np.asarray(
        p[0] - np.exp(np.clip(-_rate(p[1]) * (t - p[2]), -700.0, 700.0)), dtype=np.float64
    )


def _logistic_jac(p: FloatArray, t: FloatArray) -> FloatArray:
    r = _rate(p[1])
    u = -r * (t - p[2])
    sig = 0.5 * (1.0 + np.tanh(0.5 * u))  # logistic sigmoid, overflow-free
    return np.column_stack([np.ones_like(t), sig * r * (t - p[2]), -sig * r])


def _gompertz_jac(p: FloatArray, t: FloatArray) -> FloatArray:
    r = _rate(p[1])
    e = np.exp(np.clip(-r * (t - p[2]), -700.0, 700.0))
    return np.column_stack([np.ones_like(t), e * r * (t - p[2]), -e * r])


# Saturating models use rho = ln r (r > 0 by construction) so Levenberg-Marquardt can run
# unconstrained with analytic Jacobians.
_MODELS: dict[str, tuple[Callable[[FloatArray, FloatArray], FloatArray], tuple[str, ...]]] = {
    "log_linear": (_log_linear, ("a", "b")),
    "logistic": (_logistic, ("ln_k", "ln_r", "t0")),
    "gompertz": (_gompertz, ("ln_k", "ln_r", "t0")),
}
_JACOBIANS = {"logistic": _logistic_jac, "gompertz": _gompertz_jac}


@dataclass(frozen=True, slots=True)
class TrendFit:
    """A fitted revenue model.

    Attributes
    ----------
    model : {"log_linear", "logistic", "gompertz"}
    params : mapping
        Fitted parameters on the log scale (``a``, ``b`` per month; or ``ln_k``, ``r``, ``t0``).
    seasonal : tuple of 12 floats or None
        Log seasonal factors for January..December (mean zero), None if not fitted.
    start : date
        Month of index ``t = 0``.
    sigma_resid : float
        Residual standard deviation of log values about the fit.
    sigma_month : float
        Monthly log-innovation volatility for simulation.
    aic, bic : float
        Information criteria of the chosen fit.
    n : int
        Usable months in the fit.
    scale : float
        Multiplier applied to the fitted series (the unit price when the forecast is
        usage x unit price, else 1), in currency per unit of the fitted metric.
    source : str
        ``"revenue"`` or ``"<usage metric> x unit price"``.
    candidates : mapping
        AIC of every candidate tried (``model`` or ``model+seasonal``).
    """

    model: TrendModel
    params: Mapping[str, float]
    seasonal: tuple[float, ...] | None
    start: date
    sigma_resid: float
    sigma_month: float
    aic: float
    bic: float
    n: int
    scale: float = 1.0
    source: str = "revenue"
    candidates: Mapping[str, float] = field(default_factory=dict)
    last_t: int = 0
    damping: float = 1.0
    level_factor: float = 1.0
    level_shift: Mapping[str, float] | None = None
    active_share: float = 1.0

    def with_damping(self, damping: float) -> TrendFit:
        """Return the same fit with trend growth beyond the last observed month damped."""
        return replace(self, damping=float(damping))

    def _trend(self, t: FloatArray) -> FloatArray:
        fn, names = _MODELS[self.model]
        p = np.array([self.params[k] for k in names])
        t = np.asarray(t, dtype=np.float64)
        out = fn(p, t)
        beyond = t > self.last_t
        if self.damping < 1.0 and beyond.any():
            horizon = int(t.max()) - self.last_t
            grid = self.last_t + np.arange(horizon + 1, dtype=np.float64)
            base = fn(p, grid)
            steps = np.diff(base) * np.power(self.damping, np.arange(1, horizon + 1))
            damped = base[0] + np.concatenate([[0.0], np.cumsum(steps)])
            out = np.where(
                beyond, damped[np.clip((t - self.last_t).astype(np.int64), 0, horizon)], out
            )
        return out

    def shape_log_fit(self, t: FloatArray) -> FloatArray:
        """Return the fitted log median of the series itself (no level factor or scale)."""
        out = self._trend(np.asarray(t, dtype=np.float64))
        if self.seasonal is not None:
            cal = (month_index(self.start) + np.asarray(t, dtype=np.int64)) % 12
            out = out + np.asarray(self.seasonal)[cal]
        return out

    def log_fit(self, t: FloatArray) -> FloatArray:
        """Return the fitted log median at month indices ``t``.

        Fitted log median (incl. seasonality, damping, ``ln scale`` and the level factor) at month
        indices ``t``; ``-inf`` when the level factor is zero.
        """
        if self.level_factor <= 0.0:
            return np.full(np.shape(t), -np.inf)
        out = self._trend(np.asarray(t, dtype=np.float64)) + math.log(
            self.scale * self.level_factor
        )
        if self.seasonal is not None:
            cal = (month_index(self.start) + np.asarray(t, dtype=np.int64)) % 12
            out = out + np.asarray(self.seasonal)[cal]
        return out

    def month_offset(self, as_of: date) -> int:
        """Index ``t`` of cash-flow month 1 after ``as_of`` (the month starting on/after as_of)."""
        first = month_index(as_of) + (0 if as_of.day == 1 else 1)
        return first - month_index(self.start)

    def expected_revenue(self, as_of: date, months: int) -> FloatArray:
        """Mean monthly revenue for months ``k = 1..months`` after ``as_of``, shape (months,)."""
        t = self.month_offset(as_of) + np.arange(months, dtype=np.float64)
        if self.level_factor <= 0.0:
            return np.zeros(months)
        return np.exp(self.log_fit(t) + 0.5 * self.sigma_resid**2)

    def describe(self) -> dict[str, object]:
        """Return the fit's parameters as a plain dict (for diagnostics)."""
        return {
            "model": self.model,
            "params": dict(self.params),
            "seasonal": list(self.seasonal) if self.seasonal is not None else None,
            "sigma_resid": self.sigma_resid,
            "sigma_month": self.sigma_month,
            "aic": self.aic,
            "bic": self.bic,
            "n_months": self.n,
            "source": self.source,
            "unit_price": self.scale if self.source != "revenue" else None,
            "candidates": dict(self.candidates),
            "trend_damping": self.damping,
            "level_factor": self.level_factor,
            "level_shift": dict(self.level_shift) if self.level_shift else None,
            "active_share": self.active_share,
            "last_fitted_month_index": self.last_t,
        }


def _fit_one(
    model: str, t: FloatArray, y: FloatArray, months: FloatArray | None
) -> tuple[FloatArray, FloatArray | None, FloatArray] | None:
    """Fit one model (optionally seasonal); return (params, seasonal12, residuals) or None.

    Seasonality: 12 calendar-month means of the log-linear residuals (centred), estimated
    jointly with the log-linear trend by OLS, or taken from it and held fixed while a
    saturating trend is fitted to the deseasonalised series.
    """
    fn, _ = _MODELS[model]
    n_t = float(t.max() - t.min() + 1)
    seas: FloatArray | None = None
    target = y
    if months is not None:
        m_idx = months.astype(np.int64)
        dummies = np.zeros((t.shape[0], 12))
        dummies[np.arange(t.shape[0]), m_idx] = 1.0
        x = np.column_stack([np.ones_like(t), t, dummies[:, 1:] - dummies[:, [0]] * 0.0])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        s = np.concatenate([[0.0], coef[2:]])
        seas = s - s.mean()
        target = y - seas[m_idx]
    if model == "log_linear":
        x = np.column_stack([np.ones_like(t), t])
        p, *_ = np.linalg.lstsq(x, target, rcond=None)
        p = np.asarray(p, dtype=np.float64)
    else:
        jac = _JACOBIANS[model]
        top = float(target.max())
        best: FloatArray | None = None
        best_cost = math.inf
        for r0, t0 in ((0.1, n_t / 2),):
            p0 = np.array([top + 0.5, math.log(r0), float(t.min()) + t0])

            def residual(q: FloatArray) -> FloatArray:
                return fn(q, t) - target

            def jacobian(q: FloatArray) -> FloatArray:
                return jac(q, t)

            try:
                res = least_squares(
                    residual,
                    p0,
                    jac=jacobian,
                    method="lm",
                    max_nfev=120,
                )
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                continue
            # status 0 (evaluation budget spent) still gives a valid, if unconverged,
            # candidate: typically a saturation level drifting upwards on exponential
            # data; the information criterion then prefers the log-linear model.
            if res.status >= 0 and res.cost < best_cost and np.isfinite(res.x).all():
                best, best_cost = np.asarray(res.x, dtype=np.float64), float(res.cost)
        if best is None:
            return None
        p = best
    fitted = fn(p, t) + (
        seas[months.astype(np.int64)] if seas is not None and months is not None else 0.0
    )
    return p, seas, y - fitted


#: Fits kept by series content: a valuation refits the same history for its plan, its
#: value and most sensitivities; the fit is a pure function of the series.
_FIT_CACHE: OrderedDict[tuple[object, ...], TrendFit] = OrderedDict()
_FIT_CACHE_SIZE = 256


def fit_trend(series: MonthlySeries, *, method: str = "income") -> TrendFit:
    """Fit a trend, remembered by the series' content (`fit_trend_uncached`).

    `fit_trend_uncached`, remembered by the series' content (metric, start, values, observed and
    outlier flags): the same history gives the same fit without refitting.
    """
    key = (
        series.metric,
        series.start,
        series.values.tobytes(),
        series.observed.tobytes(),
        series.outliers.tobytes(),
    )
    hit = _FIT_CACHE.get(key)
    if hit is not None:
        _FIT_CACHE.move_to_end(key)
        return hit
    fit = fit_trend_uncached(series, method=method)
    _FIT_CACHE[key] = fit
    while len(_FIT_CACHE) > _FIT_CACHE_SIZE:
        _FIT_CACHE.popitem(last=False)
    return fit


def fit_trend_uncached(series: MonthlySeries, *, method: str = "income") -> TrendFit:
    """Fit the candidate models to a monthly series and keep the one with the lowest AIC.

    Parameters
    ----------
    series : MonthlySeries
        Cleaned monthly series (revenue in currency, or usage in counts).
    method : str
        Name of the calling approach, for the error message.

    Returns
    -------
    TrendFit

    Raises
    ------
    InsufficientDataError
        Fewer than `MIN_HISTORY_MONTHS` usable months.
    """
    require_months(series, MIN_HISTORY_MONTHS, method=method, what=series.metric)
    use = series.usable
    t = np.flatnonzero(use).astype(np.float64)
    y = np.log(series.values[use])
    n = y.shape[0]
    cal = ((month_index(series.start) + t.astype(np.int64)) % 12).astype(np.float64)
    best: tuple[float, str, FloatArray, FloatArray | None, FloatArray] | None = None
    aics: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for model in _MODELS:
            for seasonal in (False, True):
                if seasonal and n < SEASONAL_MIN_MONTHS:
                    continue
                fitted = _fit_one(model, t, y, cal if seasonal else None)
                if fitted is None:
                    continue
                p, seas, resid = fitted
                if model != "log_linear" and p[0] > y.max() + _SATURATION_LIMIT:
                    # a saturation level far above anything observed is not identified
                    # by the data: the curve is exponential growth in disguise
                    continue
                k = len(p) + (11 if seasonal else 0)
                var = max(float(resid @ resid) / n, _VAR_FLOOR)
                aic = n * math.log(var) + 2 * (k + 1)
                name = model + ("+seasonal" if seasonal else "")
                aics[name] = aic
                if best is None or aic < best[0] - 1e-9:
                    best = (aic, model, p, seas, resid)
    if best is None:  # pragma: no cover - log-linear OLS always succeeds
        raise InsufficientDataError(f"No trend model could be fitted to {series.metric}.")
    aic, model, p, seas, resid = best
    k = len(p) + (11 if seas is not None else 0)
    var = max(float(resid @ resid) / n, _VAR_FLOOR)
    bic = n * math.log(var) + (k + 1) * math.log(n)
    sigma_resid = float(np.sqrt(resid @ resid / max(n - k, 1)))
    sigma_month = sigma_resid
    _, names = _MODELS[model]
    return TrendFit(
        model=model,  # type: ignore[arg-type]
        params={k_: float(v) for k_, v in zip(names, p, strict=True)},
        seasonal=tuple(float(s) for s in seas) if seas is not None else None,
        start=series.start,
        sigma_resid=sigma_resid,
        sigma_month=sigma_month,
        aic=float(aic),
        bic=float(bic),
        n=n,
        source=series.metric,
        candidates=aics,
        last_t=int(t.max()),
    )


def revenue_forecast(signals: CleanSignals, *, method: str = "income") -> TrendFit:
    """Forecast model for the asset's revenue.

    Revenue itself when it has at least `MIN_HISTORY_MONTHS` usable months; otherwise
    the richest usage metric times a unit price, the median of revenue / usage over
    months with both (at least `MIN_PRICE_MONTHS`).

    Raises
    ------
    InsufficientDataError
        Neither route has the data; the message says what is missing.
    """
    rev = signals.revenue
    if rev is not None and rev.n_usable >= MIN_HISTORY_MONTHS:
        return adjust_level(rev, fit_trend(rev, method=method), method=method)
    if rev is not None and rev.n_observed >= MIN_HISTORY_MONTHS and _stopped(rev):
        return _stopped_fit(rev)
    usage = signals.main_usage()
    have_rev = 0 if rev is None else rev.n_usable
    if usage is None or usage.n_usable < MIN_HISTORY_MONTHS or rev is None:
        raise InsufficientDataError(
            f"The {method} approach needs at least {MIN_HISTORY_MONTHS} months of revenue "
            f"(got {have_rev}), or {MIN_HISTORY_MONTHS} months of usage (got "
            f"{0 if usage is None else usage.n_usable}) with at least {MIN_PRICE_MONTHS} months "
            "of revenue to infer a unit price.",
            field="signals",
        )
    off = month_index(rev.start) - month_index(usage.start)
    ratios = []
    for i in np.flatnonzero(rev.usable):
        j = i + off
        if 0 <= j < usage.n_months and usage.usable[j]:
            ratios.append(rev.values[i] / usage.values[j])
    if len(ratios) < MIN_PRICE_MONTHS:
        raise InsufficientDataError(
            f"The {method} approach needs at least {MIN_PRICE_MONTHS} months with both revenue "
            f"and {usage.metric} to infer a unit price. Got {len(ratios)}.",
            field="signals",
        )
    fit = adjust_level(usage, fit_trend(usage, method=method), method=method)
    unit_price = float(np.median(ratios))
    return replace(fit, scale=unit_price, source=f"{usage.metric} x unit price")


#: A trailing month is shifted when it lies beyond this factor of the fit (and 3 deviations).
LEVEL_SHIFT_FACTOR = 1.5
LEVEL_SHIFT_MAX_MONTHS = 3


def _stopped(series: MonthlySeries) -> bool:
    """Tell whether the series' last observed months (up to 3) are all zero."""
    idx = np.flatnonzero(series.observed)[-LEVEL_SHIFT_MAX_MONTHS:]
    return idx.size > 0 and bool(np.all(series.values[idx] == 0.0))


def _stopped_fit(series: MonthlySeries) -> TrendFit:
    """Return a zero forecast for a series that stopped before it had a shape to fit."""
    n = series.n_observed
    return TrendFit(
        model="log_linear",
        params={"a": 0.0, "b": 0.0},
        seasonal=None,
        start=series.start,
        sigma_resid=0.0,
        sigma_month=0.0,
        aic=float("nan"),
        bic=float("nan"),
        n=n,
        source=series.metric,
        last_t=series.n_months - 1,
        level_factor=0.0,
        level_shift={"months": float(min(LEVEL_SHIFT_MAX_MONTHS, n)), "ratio": 0.0},
        active_share=float(series.n_usable / max(n, 1)),
    )


def _longest_zero_run(values: FloatArray) -> int:
    longest = run = 0
    for v in values:
        run = run + 1 if v <= 0 else 0
        longest = max(longest, run)
    return longest


def _masked(series: MonthlySeries, months: list[int] | IntArray) -> MonthlySeries:
    masked = series.outliers.copy()
    masked[np.asarray(months, dtype=np.int64)] = True
    return MonthlySeries(series.metric, series.start, series.values, series.observed, masked)


def adjust_level(series: MonthlySeries, fit: TrendFit, *, method: str = "income") -> TrendFit:
    """Return the fit with its level following the latest data.

    See the module Notes: level shift and intermittent revenue.

    The last `LEVEL_SHIFT_MAX_MONTHS` observed months are tested against a fit without
    them (when enough months remain), so a collapse cannot hide by bending the trend.
    """
    obs = np.flatnonzero(series.observed)
    tail = obs[-LEVEL_SHIFT_MAX_MONTHS:]
    probe = fit
    without_tail = _masked(series, tail)
    if without_tail.n_usable >= MIN_HISTORY_MONTHS:
        try:
            probe = fit_trend(without_tail, method=method).with_damping(fit.damping)
        except InsufficientDataError:  # pragma: no cover - guarded by n_usable
            probe = fit
    fitted = np.exp(probe.shape_log_fit(tail.astype(np.float64)))
    sigma = max(probe.sigma_resid, 1e-6)
    run: list[int] = []
    sign = 0
    for pos in range(tail.size - 1, -1, -1):  # from the last month backwards, one sign
        i = int(tail[pos])
        v, f = series.values[i], fitted[pos]
        d = -math.inf if v <= 0 else math.log(v / f)
        k = len(run) + 1
        if abs(d) > max(math.log(LEVEL_SHIFT_FACTOR), 3.0 * sigma / math.sqrt(k)) and (
            sign == 0 or np.sign(d) == sign
        ):
            run.append(i)
            sign = int(np.sign(d))
        else:
            break
    earlier = series.values[obs[obs < min(run)]] if run else series.values[obs]
    if run and np.all(series.values[run] <= 0) and len(run) <= _longest_zero_run(earlier):
        run = []  # intermittent revenue: no longer a gap than before
    shift: dict[str, float] | None = None
    level = 1.0
    if run:
        shape = probe
        if len(run) < tail.size:
            trimmed = _masked(series, run)
            if trimmed.n_usable >= MIN_HISTORY_MONTHS:
                try:
                    shape = fit_trend(trimmed, method=method).with_damping(fit.damping)
                except InsufficientDataError:  # pragma: no cover - guarded by n_usable
                    shape = probe
        f_run = np.exp(shape.shape_log_fit(np.asarray(run, dtype=np.float64)))
        level = float(series.values[run].mean() / f_run.mean())
        shift = {"months": float(len(run)), "ratio": level, "first_month_index": float(min(run))}
        fit = shape
    before = obs[obs < min(run)] if run else obs
    recent = before[-12:]
    active = float((series.values[recent] > 0).mean()) if recent.size else 1.0
    return replace(fit, level_factor=level * active, level_shift=shift, active_share=active)


def default_half_life_months(asset: AssetProfile) -> float:
    """Return the obsolescence half-life in months from the asset's quality profile.

    Obsolescence half-life in months from timeliness and refresh profile (`half_life_from_profile`
    of the asset's ``quality.timeliness`` and ``refresh_days``).
    """
    return half_life_from_profile(asset.quality.timeliness, asset.refresh_days)


def half_life_from_profile(timeliness: float, refresh_days: float) -> float:
    """Return the library's one half-life rule (months), for any caller that knows the profile.

    ``H = (12 + 48 * timeliness) * m(refresh_days)`` with ``m`` = 1.25 for daily (or
    faster) refresh, 1.10 weekly, 1.00 monthly, 0.85 quarterly, 0.70 slower. A perfectly
    timely, daily-refreshed data set halves its earning power in 75 months, a stale,
    annually refreshed one in about 8. These are documented defaults of this library,
    calibrated to the 1-5 year useful lives appraisers assign to data assets; override
    with ``half_life_months``.

    >>> half_life_from_profile(1.0, 1)
    75.0
    """
    base = 12.0 + 48.0 * float(timeliness)
    d = int(refresh_days)
    if d <= 1:
        m = 1.25
    elif d <= 7:
        m = 1.10
    elif d <= 31:
        m = 1.00
    elif d <= 92:
        m = 0.85
    else:
        m = 0.70
    return base * m


def decay_factors(months: int | FloatArray, half_life_months: float | FloatArray) -> FloatArray:
    """Obsolescence decay ``0.5 ** (k / H)``, the project's one half-life rule.

    ``months`` is a count (``k = 1..months``, shape (months,)) or an array of month
    numbers that broadcasts against ``half_life_months`` (e.g. (1, M) by (A, 1) for many
    assets); an infinite half-life does not decay (factor 1).
    """
    k = np.arange(1, months + 1, dtype=np.float64) if isinstance(months, int) else months
    return np.asarray(np.power(0.5, np.divide(k, half_life_months)), dtype=np.float64)


def decay_horizon_months(half_life_months: float, floor: float = 0.05) -> int:
    """Months until the decay factor falls below ``floor`` (5 %): ``ceil(H log2(1/floor))``."""
    return int(math.ceil(half_life_months * math.log2(1.0 / floor)))
