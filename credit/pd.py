"""Probability of default: a rating master scale, or the borrower's data revenue against its debt service.

Master scale
    Seven grades with one-year PDs set near the long-run average corporate default
    rates published by S&P Global (Annual Global Corporate Default and Rating
    Transition Study, 1981-2023: AAA 0.00 %, AA 0.02 %, A 0.05 %, BBB 0.14 %,
    BB 0.59 %, B 3.1 %, CCC/C 26 %), rounded up to keep a margin for a young asset
    class and never below the Basel PD floor of 0.03 % (the IRB function adds its own
    0.05 % floor). Boundaries between grades are geometric midpoints.

Revenue-based PD
    On each Monte Carlo path the debt service coverage ratio of month ``t`` is
    ``DSCR_t = share x sum(revenue over the window ending at t) / sum(debt service over
    the same window)`` for months with debt service due; the borrower defaults on the
    first month with ``DSCR_t < 1`` within the horizon. ``PD = P(default)`` over the
    paths, with its binomial standard error. The same paths drive collateral value, so
    the default paths feed the economic LGD (wrong-way risk).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from valuation._typing import BoolArray, FloatArray, IntArray
from valuation.errors import ConventionError

#: One-year PD by grade (decimal).
MASTER_SCALE: Mapping[str, float] = MappingProxyType(
    {
        "AAA": 0.0003,
        "AA": 0.0005,
        "A": 0.0008,
        "BBB": 0.0020,
        "BB": 0.0070,
        "B": 0.0330,
        "CCC": 0.2600,
    }
)
GRADES: tuple[str, ...] = tuple(MASTER_SCALE)


def pd_from_rating(rating: str) -> float:
    """One-year PD of a master-scale grade (``AAA`` .. ``CCC``; modifiers ``+``/``-`` ignored)."""
    if not isinstance(rating, str):
        raise ConventionError(
            f"The `rating` must be one of {', '.join(GRADES)}. Got {rating!r}.", field="rating"
        )
    grade = rating.strip().upper().rstrip("+-")
    if grade in ("CC", "C"):
        grade = "CCC"
    if grade not in MASTER_SCALE:
        raise ConventionError(
            f"The `rating` must be one of {', '.join(GRADES)}. Got {rating!r}.", field="rating"
        )
    return MASTER_SCALE[grade]


def rating_from_pd(pd: float) -> str:
    """Master-scale grade of a PD: the grade whose geometric band contains it."""
    if not (isinstance(pd, int | float) and math.isfinite(pd) and 0.0 < pd < 1.0):
        raise ConventionError(f"The `pd` must be a decimal in (0, 1). Got {pd!r}.", field="pd")
    pds = np.array(list(MASTER_SCALE.values()))
    bounds = np.sqrt(pds[:-1] * pds[1:])
    return GRADES[int(np.searchsorted(bounds, pd, side="right"))]


@dataclass(frozen=True, slots=True)
class RevenuePdResult:
    """PD from simulated revenue: ``pd`` with ``std_error``; per path ``defaulted`` and ``default_month`` (-1: none)."""

    pd: float
    std_error: float
    n_paths: int
    horizon_months: int
    defaulted: BoolArray
    default_month: IntArray
    min_dscr: FloatArray


def pd_from_revenue(
    revenue_paths: FloatArray,
    debt_service: FloatArray | float,
    *,
    horizon_months: int | None = None,
    share: float = 1.0,
    window_months: int = 1,
    pd_floor: float = 0.0,
) -> RevenuePdResult:
    """P(DSCR < 1 within the horizon) from simulated monthly revenue.

    Parameters
    ----------
    revenue_paths : array (n_paths, n_months)
        Simulated monthly revenue available to the borrower (currency units).
    debt_service : float or array (n_months,)
        Interest plus principal due in each month (0 where nothing is due).
    horizon_months : int, optional
        Months tested (default: all months with debt service).
    share : float
        Part of revenue available for debt service, in (0, 1].
    window_months : int
        Months summed on both sides of the DSCR (1 = month by month; 3 = quarterly, ...).
    pd_floor : float
        Lower bound on the reported PD (e.g. 1 / n_paths, or the Basel floor).

    Returns
    -------
    RevenuePdResult
    """
    rev = np.asarray(revenue_paths, dtype=np.float64)
    if rev.ndim != 2 or rev.size == 0 or not np.all(np.isfinite(rev)):
        raise ConventionError(
            "The `revenue_paths` must be a finite (n_paths, n_months) array.", field="revenue_paths"
        )
    n_paths, n_months = rev.shape
    ds = (
        np.broadcast_to(np.asarray(debt_service, dtype=np.float64), (n_months,))
        if np.ndim(debt_service) == 0
        else np.asarray(debt_service, dtype=np.float64)
    )
    if ds.shape[0] > n_months:
        raise ConventionError(
            f"The `debt_service` covers {ds.shape[0]} months but the paths only {n_months}.",
            field="debt_service",
        )
    if np.any(~np.isfinite(ds)) or np.any(ds < 0):
        raise ConventionError(
            "The `debt_service` must be finite and non-negative.", field="debt_service"
        )
    if not 0.0 < share <= 1.0:
        raise ConventionError(f"The `share` must be in (0, 1]. Got {share!r}.", field="share")
    if not isinstance(window_months, int) or window_months < 1:
        raise ConventionError(
            f"The `window_months` must be a positive integer. Got {window_months!r}.",
            field="window_months",
        )
    months = ds.shape[0] if horizon_months is None else int(horizon_months)
    if months < 1 or months > ds.shape[0]:
        raise ConventionError(
            f"The `horizon_months` must be in [1, {ds.shape[0]}]. Got {horizon_months!r}.",
            field="horizon_months",
        )
    rev = rev[:, :months] * share
    ds = ds[:months]
    if window_months > 1:
        c_rev = np.cumsum(rev, axis=1)
        c_ds = np.cumsum(ds)
        rev_w = (
            c_rev
            - np.concatenate(
                [np.zeros((n_paths, window_months)), c_rev[:, :-window_months]], axis=1
            )[:, :months]
        )
        ds_w = c_ds - np.concatenate([np.zeros(window_months), c_ds[:-window_months]])[:months]
    else:
        rev_w, ds_w = rev, ds
    due = ds > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        dscr = np.where(due[None, :], rev_w / np.where(ds_w > 0, ds_w, 1.0), np.inf)
    breach = dscr < 1.0
    defaulted = breach.any(axis=1)
    first = np.where(defaulted, breach.argmax(axis=1), -1)
    pd = float(defaulted.mean())
    se = math.sqrt(max(pd * (1.0 - pd), 0.0) / n_paths)
    return RevenuePdResult(
        pd=max(pd, pd_floor),
        std_error=se,
        n_paths=n_paths,
        horizon_months=months,
        defaulted=np.asarray(defaulted, dtype=np.bool_),
        default_month=first.astype(np.int64),
        min_dscr=dscr.min(axis=1),
    )


def annualise_pd(pd: float, horizon_months: int) -> float:
    """One-year PD from a PD over ``horizon_months`` at a constant hazard: ``1 - (1 - pd)^(12 / m)``."""
    if not 0.0 <= pd < 1.0 or horizon_months < 1:
        raise ConventionError(
            f"The `pd` must be in [0, 1) and the horizon positive. Got {pd!r}, {horizon_months!r}.",
            field="pd",
        )
    return float(1.0 - (1.0 - pd) ** (12.0 / horizon_months))
