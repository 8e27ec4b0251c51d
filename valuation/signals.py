"""Cleaning of monthly usage and revenue signals.

Input: a pandas DataFrame with columns ``month`` (Timestamp at a month start),
``metric`` (``"revenue"``, in major units of the valuation currency, or a usage
metric such as ``"calls"``, ``"subscribers"``, ``"downloads"``, in counts) and
``value`` (float, finite, >= 0). Optional columns are checked: ``currency`` (revenue
rows must be in the valuation currency) and ``unit`` (revenue in the valuation
currency, usage metrics in counts, never a currency code).

Treatment (stated in every result's ``notes``):

- only complete months before ``as_of`` are used (a month counts when its last day
  is before ``as_of``);
- gaps inside a series are filled by log-linear interpolation between the
  neighbouring observed months (linear when a neighbour is zero) and flagged as
  not observed; the forecast fits observed months only;
- outliers: an interior month whose log value sits more than ``OUTLIER_Z`` robust
  standard deviations (1.4826 x MAD) from the median of its four neighbours (two
  months either side, all four observed and positive) is flagged and excluded from the
  fit (needs at least 6 positive months). The first two months and the last
  `TRAILING_PROTECTED` months are never flagged: a collapse (or a jump) at the end of
  the history is news, not noise, and is handled as a level shift by the forecast
  (`valuation.forecast`);
- zero months are data: they stay in the series, count as observed history, and enter
  the forecast as the share of months with revenue and, at the end of the history, as a
  level shift; only the log fit of the trend's shape leaves them out.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from valuation._typing import BoolArray, FloatArray
from valuation.conventions import MINOR_UNITS, add_months, month_index, parse_currency
from valuation.errors import ConventionError, InsufficientDataError

REVENUE = "revenue"
OUTLIER_Z = 5.0
#: Trailing months never flagged as outliers.
TRAILING_PROTECTED = 3
_REQUIRED_COLUMNS = ("month", "metric", "value")


@dataclass(frozen=True, slots=True)
class MonthlySeries:
    """One cleaned monthly series.

    Attributes
    ----------
    metric : str
        Metric name.
    start : date
        First month (a month start).
    values : FloatArray, shape (n,)
        Values per month with gaps filled (units of the metric).
    observed : BoolArray, shape (n,)
        True where the month was reported (False: filled gap).
    outliers : BoolArray, shape (n,)
        True where the month was flagged as an outlier.
    """

    metric: str
    start: date
    values: FloatArray
    observed: BoolArray
    outliers: BoolArray

    @property
    def n_months(self) -> int:
        """Return the number of months of the series."""
        return int(self.values.shape[0])

    @property
    def usable(self) -> BoolArray:
        """Months a log fit may use: observed, not outliers, positive."""
        return self.observed & ~self.outliers & (self.values > 0)

    @property
    def n_usable(self) -> int:
        """Return the number of usable (observed, not outlier) months."""
        return int(self.usable.sum())

    @property
    def n_observed(self) -> int:
        """Months reported (zero months included)."""
        return int(self.observed.sum())

    @property
    def last_month(self) -> date:
        """Return the series' last month."""
        return add_months(self.start, self.n_months - 1)

    def scaled(self, k: float) -> MonthlySeries:
        """Return the series with every value multiplied by ``k``."""
        return MonthlySeries(self.metric, self.start, self.values * k, self.observed, self.outliers)


@dataclass(frozen=True, slots=True)
class CleanSignals:
    """Cleaned signals of one asset: revenue (major units) and usage series (counts)."""

    revenue: MonthlySeries | None
    usage: Mapping[str, MonthlySeries]
    notes: tuple[str, ...] = field(default=())

    def main_usage(self) -> MonthlySeries | None:
        """Return the usage metric with the most usable months (ties: alphabetical)."""
        if not self.usage:
            return None
        return max(sorted(self.usage.values(), key=lambda s: s.metric), key=lambda s: s.n_usable)


def _fill_and_flag(values: FloatArray, observed: BoolArray) -> tuple[FloatArray, BoolArray]:
    n = values.shape[0]
    filled = values.copy()
    idx = np.flatnonzero(observed)
    missing = np.flatnonzero(~observed)
    if missing.size:
        obs_vals = values[idx]
        positive = obs_vals > 0
        if positive.all():
            filled[missing] = np.exp(np.interp(missing, idx, np.log(obs_vals)))
        else:
            filled[missing] = np.interp(missing, idx, obs_vals)
    outliers = np.zeros(n, dtype=bool)
    pos = observed & (filled > 0)
    if pos.sum() >= 6:
        logs = np.where(pos, np.log(np.where(pos, filled, 1.0)), np.nan)
        padded = np.concatenate([np.full(2, np.nan), logs, np.full(2, np.nan)])
        neighbours = np.stack(
            [padded[0:n], padded[1 : n + 1], padded[3 : n + 3], padded[4 : n + 4]]
        )
        counts = np.isfinite(neighbours).sum(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(neighbours, axis=0)
        dev = logs - med
        ok = np.isfinite(dev) & (counts >= 4)
        ok[max(n - TRAILING_PROTECTED, 0) :] = False
        mad = float(np.median(np.abs(dev[ok]))) if ok.any() else 0.0
        scale = 1.4826 * mad
        if scale > 0:
            z = np.zeros(n)
            z[ok] = dev[ok] / scale
            outliers = ok & (np.abs(z) > OUTLIER_Z)
    return filled, outliers


def clean_signals(
    signals: pd.DataFrame, *, as_of: date, currency: str | None = None
) -> CleanSignals:
    """Check and clean monthly signals (see the module docstring for the treatment).

    Parameters
    ----------
    signals : pandas.DataFrame
        Columns ``month``, ``metric``, ``value`` (and optionally ``currency``).
    as_of : date
        Valuation date; months not complete before it are dropped.
    currency : str, optional
        Valuation currency; revenue rows with another ``currency`` are rejected.

    Returns
    -------
    CleanSignals

    Raises
    ------
    ConventionError
        Missing columns, months not at a month start, duplicate (metric, month),
        values not finite or negative, revenue in another currency.
    """
    if not isinstance(signals, pd.DataFrame):
        raise ConventionError(
            f"The `signals` must be a pandas DataFrame. Got {type(signals).__name__}.",
            field="signals",
        )
    for col in _REQUIRED_COLUMNS:
        if col not in signals.columns:
            raise ConventionError(
                f"The `signals.{col}` column is required (columns month, metric, value). "
                f"Got columns {list(signals.columns)!r}.",
                field=f"signals.{col}",
            )
    notes: list[str] = []
    if signals.empty:
        return CleanSignals(None, {}, ("no signals",))
    try:
        months = pd.to_datetime(signals["month"])
    except (ValueError, TypeError) as exc:
        raise ConventionError(
            f"The `signals.month` must hold month-start dates. {exc}", field="signals.month"
        ) from None
    if (
        months.isna().any()
        or not (months.dt.is_month_start & (months.dt.normalize() == months)).all()
    ):
        bad = signals["month"][~(months.dt.is_month_start.fillna(False))].iloc[:1].tolist()
        raise ConventionError(
            f"The `signals.month` must be the first day of a month (YYYY-MM-01). Got {bad!r}.",
            field="signals.month",
        )
    values = pd.to_numeric(signals["value"], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        bad_i = int(np.flatnonzero(~np.isfinite(values) | (values < 0))[0])
        raise ConventionError(
            "The `signals.value` must be finite and non-negative (revenue in major units, "
            f"usage in counts). Got {signals['value'].iloc[bad_i]!r} in row {bad_i}.",
            field="signals.value",
        )
    metric = signals["metric"].astype(str).str.strip().str.lower().to_numpy()
    if currency is not None and "currency" in signals.columns:
        ccy = signals["currency"].to_numpy()
        rev_ccy = {
            c for c, m in zip(ccy, metric, strict=True) if m == REVENUE and isinstance(c, str)
        }
        if rev_ccy - {currency}:
            raise ConventionError(
                f"The `signals.currency` of revenue rows must be the valuation currency "
                f"{parse_currency(currency)}. Got {sorted(rev_ccy)!r}; convert first.",
                field="signals.currency",
            )
    if "unit" in signals.columns:
        _check_units(signals["unit"].to_numpy(), metric, currency)
    frame = pd.DataFrame({"month": months.dt.date.to_numpy(), "metric": metric, "value": values})
    dup = frame.duplicated(["metric", "month"])
    if dup.any():
        row = frame[dup].iloc[0]
        raise ConventionError(
            "The `signals.month` must be unique per metric (one value per metric and month). "
            f"Got a duplicate {row['metric']!r} for {row['month']}.",
            field="signals.month",
        )
    complete = np.array([add_months(m, 1) <= as_of for m in frame["month"]], dtype=bool)
    if (~complete).any():
        notes.append(f"{int((~complete).sum())} month(s) not complete before as_of dropped")
    frame = frame[complete]
    series: dict[str, MonthlySeries] = {}
    for name, grp in frame.groupby("metric", sort=True):
        grp = grp.sort_values("month")
        idx = np.array([month_index(m) for m in grp["month"]], dtype=np.int64)
        n = int(idx[-1] - idx[0] + 1)
        vals = np.zeros(n)
        observed = np.zeros(n, dtype=bool)
        vals[idx - idx[0]] = grp["value"].to_numpy(dtype=np.float64)
        observed[idx - idx[0]] = True
        filled, outliers = _fill_and_flag(vals, observed)
        gaps = int((~observed).sum())
        if gaps:
            notes.append(f"{name}: {gaps} missing month(s) filled by log-linear interpolation")
        if outliers.any():
            notes.append(
                f"{name}: {int(outliers.sum())} outlier month(s) flagged and left out of fits"
            )
        series[str(name)] = MonthlySeries(
            str(name), grp["month"].iloc[0], filled, observed, outliers
        )
    revenue = series.pop(REVENUE, None)
    return CleanSignals(revenue, series, tuple(notes))


def _check_units(units: np.ndarray, metric: np.ndarray, currency: str | None) -> None:
    """Revenue is money (the valuation currency), usage is a count: a swapped unit is an error."""
    for i, (unit, m) in enumerate(zip(units, metric, strict=True)):
        if unit is None or (isinstance(unit, float) and np.isnan(unit)):
            continue
        u = str(unit).strip()
        is_money = u.upper() in MINOR_UNITS
        if m == REVENUE and not (is_money and (currency is None or u.upper() == currency)):
            raise ConventionError(
                f"The `signals.unit` of revenue rows must be the valuation currency "
                f"{currency or '(an ISO 4217 code)'}. Got {unit!r} in row {i}.",
                field="signals.unit",
            )
        if m != REVENUE and is_money:
            raise ConventionError(
                f"The `signals.unit` of the usage metric {m!r} must be a count, not a currency. "
                f"Got {unit!r} in row {i}; revenue goes under the metric 'revenue'.",
                field="signals.unit",
            )


def require_months(
    series: MonthlySeries | None, minimum: int, *, method: str, what: str = "revenue"
) -> MonthlySeries:
    """Return ``series`` if it has ``minimum`` usable months, else raise `InsufficientDataError`."""
    have = 0 if series is None else series.n_usable
    if series is None or have < minimum:
        raise InsufficientDataError(
            f"The {method} approach needs at least {minimum} months of positive {what} signals "
            f"before as_of. Got {have}.",
            field="signals",
        )
    return series
