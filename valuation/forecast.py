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
model. The forecast of month ``t`` is the mean of a lognormal around the fit,
``exp(fit(t) + s(t) + sigma_resid^2 / 2)``.

Volatility for simulation: ``sigma_month`` is the sample standard deviation of the
month-on-month log changes left after removing the fitted path's own changes
(consecutive usable months only); with fewer than three such changes it falls
back to the residual standard deviation.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
from scipy.optimize import least_squares

from valuation._typing import FloatArray
from valuation.asset import AssetProfile
from valuation.errors import InsufficientDataError, NumericalWarning
from valuation.signals import CleanSignals, MonthlySeries, require_months

TrendModel = Literal["log_linear", "logistic", "gompertz"]
SEASONAL_MIN_MONTHS = 24
MIN_HISTORY_MONTHS = 12  # months of revenue (or usage) a forecast needs
MIN_PRICE_MONTHS = 3  # months with both revenue and usage to infer a unit price
_VAR_FLOOR = 1e-12


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _log_linear(p: FloatArray, t: FloatArray) -> FloatArray:
    return p[0] + p[1] * t


def _logistic(p: FloatArray, t: FloatArray) -> FloatArray:
    return p[0] - np.logaddexp(0.0, -p[1] * (t - p[2]))


def _gompertz(p: FloatArray, t: FloatArray) -> FloatArray:
    return p[0] - np.exp(np.clip(-p[1] * (t - p[2]), -700.0, 700.0))


_MODELS: dict[str, tuple[Callable[[FloatArray, FloatArray], FloatArray], tuple[str, ...]]] = {
    "log_linear": (_log_linear, ("a", "b")),
    "logistic": (_logistic, ("ln_k", "r", "t0")),
    "gompertz": (_gompertz, ("ln_k", "r", "t0")),
}


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

    def log_fit(self, t: FloatArray) -> FloatArray:
        """Fitted log median (incl. seasonality and ``ln scale``) at month indices ``t``."""
        fn, names = _MODELS[self.model]
        p = np.array([self.params[k] for k in names])
        out = fn(p, np.asarray(t, dtype=np.float64)) + math.log(self.scale)
        if self.seasonal is not None:
            cal = (_month_index(self.start) + np.asarray(t, dtype=np.int64)) % 12
            out = out + np.asarray(self.seasonal)[cal]
        return out

    def month_offset(self, as_of: date) -> int:
        """Index ``t`` of cash-flow month 1 after ``as_of`` (the month starting on/after as_of)."""
        first = _month_index(as_of) + (0 if as_of.day == 1 else 1)
        return first - _month_index(self.start)

    def expected_revenue(self, as_of: date, months: int) -> FloatArray:
        """Mean monthly revenue for months ``k = 1..months`` after ``as_of``, shape (months,)."""
        t = self.month_offset(as_of) + np.arange(months, dtype=np.float64)
        return np.exp(self.log_fit(t) + 0.5 * self.sigma_resid**2)

    def describe(self) -> dict[str, object]:
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
        }


def _fit_one(
    model: str, t: FloatArray, y: FloatArray, months: FloatArray | None
) -> tuple[FloatArray, FloatArray | None, FloatArray] | None:
    """Fit one model (optionally seasonal); return (params, seasonal12, residuals) or None."""
    fn, _ = _MODELS[model]
    n_t = float(t.max() - t.min() + 1)
    seas: FloatArray | None = None
    target = y

    def solve(target: FloatArray) -> FloatArray | None:
        if model == "log_linear":
            x = np.column_stack([np.ones_like(t), t])
            coef, *_ = np.linalg.lstsq(x, target, rcond=None)
            return np.asarray(coef, dtype=np.float64)
        top = float(target.max())
        best: FloatArray | None = None
        best_cost = math.inf
        for r0, t0 in ((0.1, n_t / 2), (0.05, n_t), (0.2, 0.0)):
            p0 = np.array([top + 0.5, r0, float(t.min()) + t0])
            try:
                res = least_squares(
                    lambda p: fn(p, t) - target,
                    p0,
                    bounds=([-np.inf, 1e-4, -10 * n_t], [np.inf, 5.0, 20 * n_t]),
                    method="trf",
                    x_scale="jac",
                    max_nfev=400,
                )
            except (ValueError, FloatingPointError):
                continue
            if res.success and res.cost < best_cost and np.isfinite(res.x).all():
                best, best_cost = np.asarray(res.x, dtype=np.float64), float(res.cost)
        return best

    p = solve(target)
    if p is None:
        return None
    if months is not None:
        for _ in range(3):  # alternate trend and seasonal means (converges in a few passes)
            resid = y - fn(p, t)
            s = np.zeros(12)
            for m in range(12):
                sel = months == m
                s[m] = resid[sel].mean() if sel.any() else 0.0
            s -= s.mean()
            seas = s
            p_new = solve(y - s[months.astype(np.int64)])
            if p_new is None:
                return None
            p = p_new
    fitted = fn(p, t) + (seas[months.astype(np.int64)] if seas is not None and months is not None else 0.0)
    return p, seas, y - fitted


def fit_trend(series: MonthlySeries, *, method: str = "income") -> TrendFit:
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
    cal = ((_month_index(series.start) + t.astype(np.int64)) % 12).astype(np.float64)
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
    consecutive = np.diff(t) == 1
    d_resid = np.diff(resid)[consecutive]
    sigma_month = float(d_resid.std(ddof=1)) if d_resid.size >= 3 else sigma_resid
    if model != "log_linear" and p[0] > y.max() + math.log(50.0):
        warnings.warn(
            f"The {model} fit of {series.metric} saturates far above the data "
            f"(ln K = {p[0]:.2f}); it behaves like exponential growth.",
            NumericalWarning,
            stacklevel=2,
        )
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
        return fit_trend(rev, method=method)
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
    off = _month_index(rev.start) - _month_index(usage.start)
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
    fit = fit_trend(usage, method=method)
    unit_price = float(np.median(ratios))
    return TrendFit(
        model=fit.model,
        params=fit.params,
        seasonal=fit.seasonal,
        start=fit.start,
        sigma_resid=fit.sigma_resid,
        sigma_month=fit.sigma_month,
        aic=fit.aic,
        bic=fit.bic,
        n=fit.n,
        scale=unit_price,
        source=f"{usage.metric} x unit price",
        candidates=fit.candidates,
    )


def default_half_life_months(asset: AssetProfile) -> float:
    """Obsolescence half-life in months from timeliness and refresh profile.

    ``H = (12 + 48 * timeliness) * m(refresh_days)`` with ``m`` = 1.25 for daily (or
    faster) refresh, 1.10 weekly, 1.00 monthly, 0.85 quarterly, 0.70 slower. A perfectly
    timely, daily-refreshed data set halves its earning power in 75 months, a stale,
    annually refreshed one in about 8. These are documented defaults of this library,
    calibrated to the 1-5 year useful lives appraisers assign to data assets; override
    with ``half_life_months``.
    """
    base = 12.0 + 48.0 * asset.quality.timeliness
    d = asset.refresh_days
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


def decay_factors(months: int, half_life_months: float) -> FloatArray:
    """``0.5 ** (k / half_life_months)`` for ``k = 1..months``, shape (months,)."""
    k = np.arange(1, months + 1, dtype=np.float64)
    return np.power(0.5, k / half_life_months)


def decay_horizon_months(half_life_months: float, floor: float = 0.05) -> int:
    """Months until the decay factor falls below ``floor`` (5 %): ``ceil(H log2(1/floor))``."""
    return int(math.ceil(half_life_months * math.log2(1.0 / floor)))
