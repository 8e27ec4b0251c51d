"""Default and recovery economics of a loan against a data asset, path by path.

Liquidity default
    A borrower whose data revenue services the loan defaults when it runs out of cash,
    not when one month's revenue is thin. On each Monte Carlo path a cash account starts
    at the buffer ``B`` (default: 3 months of the loan's average monthly debt service, a
    common minimum liquidity covenant) and each month receives ``share x revenue`` and
    pays the debt service due; after each payment, cash above ``B`` is distributed (the
    lender cannot count on it), so revenue accumulates between payment dates but the
    account never carries more than ``B`` past one. A month that ends with negative cash leaves
    an arrear; the borrower defaults when arrears have lasted ``cure_months`` consecutive
    months (default 3: Basel's 90 days past due, CRE36.70-36.71) and cures when the
    account returns to zero or more. The default month is the month the cure period
    runs out. ``PD = P(default within the tenor)`` over the paths, with its binomial
    standard error.

Economic LGD (workout)
    The same paths drive default and collateral (wrong-way risk). On a defaulted path the
    recovery is the collateral's value at the default month (the path's value of the cash
    flows still to come), sold at a distressed-sale discount ``d`` (default 30 %) after
    liquidation costs ``c`` (default 10 % of proceeds), received ``T`` months later
    (default 12) and discounted at the workout rate ``r`` (default 10 % a year), less
    workout costs ``w`` (default 5 % of EAD); pledges of other loans that rank first are
    paid before this loan:

    ``recovery = max(0, V_tau (1 - d)(1 - c) (1 + r)^(-T/12) - prior) - w EAD``
    ``LGD = max(floor, E[(EAD - recovery)^+ | default] / E[EAD | default])``

    The floor (default 15 %) is the Basel III A-IRB LGD input floor for exposures
    secured by other physical collateral (CRE32.25). Data is not eligible collateral
    under Basel, so the floor is a conservative analogue, not a regulatory requirement;
    the regulatory (F-IRB, unsecured) LGD is reported beside it (`credit.lgd.regulatory_lgd`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from credit.pd import RevenuePdResult
from credit.pricing import _dec as _decimal
from valuation._typing import BoolArray, FloatArray
from valuation.errors import ConventionError

DEFAULT_BUFFER_MONTHS = 3.0
DEFAULT_CURE_MONTHS = 3
DEFAULT_DISTRESSED_DISCOUNT = 0.30
DEFAULT_LIQUIDATION_COST = 0.10
DEFAULT_WORKOUT_COST = 0.05
DEFAULT_TIME_TO_RECOVER_MONTHS = 12
DEFAULT_WORKOUT_RATE = 0.10
DEFAULT_LGD_FLOOR = 0.15


def liquidity_default(
    revenue_paths: FloatArray,
    debt_service: FloatArray,
    *,
    share: float = 1.0,
    cash_buffer: float | None = None,
    buffer_months: float = DEFAULT_BUFFER_MONTHS,
    cure_months: int = DEFAULT_CURE_MONTHS,
) -> RevenuePdResult:
    """Default when the cash buffer is exhausted and arrears outlast the cure period.

    Parameters
    ----------
    revenue_paths : array (n_paths, n_months)
        Simulated monthly revenue of the borrower (currency units), month 1 first.
    debt_service : array (m,)
        Debt service due in each month ``1..m`` (``m <= n_months``; 0 where nothing is due).
    share : float
        Part of revenue available for debt service, in (0, 1].
    cash_buffer : float, optional
        Opening cash and its cap, currency units; default ``buffer_months`` x the average
        monthly debt service over the ``m`` months.
    buffer_months : float
        Months of average debt service in the default buffer, >= 0.
    cure_months : int
        Consecutive months in arrears that make a default, >= 1.

    Returns
    -------
    RevenuePdResult
        ``default_month`` is the 0-based month column of default (-1: none);
        ``min_dscr`` the lowest month's coverage ``share x revenue / debt service`` (used to
        rank paths when the PD comes from a rating).
    """
    rev = np.asarray(revenue_paths, dtype=np.float64)
    if rev.ndim != 2 or rev.size == 0 or not np.all(np.isfinite(rev)):
        raise ConventionError(
            "The `revenue_paths` must be a finite (n_paths, n_months) array.", field="revenue_paths"
        )
    ds = np.asarray(debt_service, dtype=np.float64)
    n_paths, n_months = rev.shape
    if (
        ds.ndim != 1
        or ds.size == 0
        or ds.size > n_months
        or np.any(~np.isfinite(ds))
        or np.any(ds < 0)
    ):
        raise ConventionError(
            f"The `debt_service` must be finite, non-negative, for 1..{n_months} months.",
            field="debt_service",
        )
    share = _decimal(share, "share", 0.0, 1.0)
    if share <= 0:
        raise ConventionError(f"The `share` must be in (0, 1]. Got {share!r}.", field="share")
    if isinstance(cure_months, bool) or not isinstance(cure_months, int) or cure_months < 1:
        raise ConventionError(
            f"The `cure_months` must be a positive integer. Got {cure_months!r}.",
            field="cure_months",
        )
    buffer_months = _decimal(buffer_months, "buffer_months", 0.0, 120.0)
    m = ds.size
    avg = float(ds.sum() / m)
    buffer = buffer_months * avg if cash_buffer is None else float(cash_buffer)
    if not (math.isfinite(buffer) and buffer >= 0):
        raise ConventionError(
            f"The `cash_buffer` must be a non-negative amount. Got {cash_buffer!r}.",
            field="cash_buffer",
        )
    income = rev[:, :m] * share
    cash = np.full(n_paths, buffer)
    arrears = np.zeros(n_paths, dtype=np.int64)
    default_month = np.full(n_paths, -1, dtype=np.int64)
    for t in range(m):
        alive = default_month < 0
        cash = cash + income[:, t] - ds[t]
        if ds[t] > 0:  # after each payment, cash above the buffer is distributed
            cash = np.minimum(cash, buffer)
        late = cash < 0
        arrears = np.where(late, arrears + 1, 0)
        newly = alive & (arrears >= cure_months)
        default_month[newly] = t
    defaulted = default_month >= 0
    due = ds > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(due[None, :], income / np.where(due, ds, 1.0)[None, :], np.inf)
    pd = float(defaulted.mean())
    return RevenuePdResult(
        pd=pd,
        std_error=math.sqrt(max(pd * (1.0 - pd), 0.0) / n_paths),
        n_paths=n_paths,
        horizon_months=m,
        defaulted=defaulted,
        default_month=default_month,
        min_dscr=cover.min(axis=1),
    )


@dataclass(frozen=True, slots=True)
class WorkoutLgd:
    """Economic LGD on the default paths after the workout, floored; ``unfloored`` beside it."""

    lgd: float
    unfloored: float
    floor: float
    std_error: float
    n_default_paths: int
    recovery_rate: float

    def as_dict(self) -> dict[str, float | int]:
        """Return the figures as a plain dict."""
        return {
            "lgd": self.lgd,
            "unfloored": self.unfloored,
            "floor": self.floor,
            "std_error": self.std_error,
            "n_default_paths": self.n_default_paths,
            "recovery_rate": self.recovery_rate,
        }


def workout_lgd(
    exposure: FloatArray | float,
    collateral_values: FloatArray,
    defaulted: BoolArray,
    *,
    prior_claims: FloatArray | float = 0.0,
    distressed_discount: float = DEFAULT_DISTRESSED_DISCOUNT,
    liquidation_cost: float = DEFAULT_LIQUIDATION_COST,
    workout_cost: float = DEFAULT_WORKOUT_COST,
    time_to_recover_months: float = DEFAULT_TIME_TO_RECOVER_MONTHS,
    workout_rate: float = DEFAULT_WORKOUT_RATE,
    lgd_floor: float = DEFAULT_LGD_FLOOR,
    fallback: float | None = None,
) -> WorkoutLgd:
    """Economic LGD after a workout (module Notes): discount, costs, time, prior pledges, floor.

    ``fallback`` is the unfloored LGD used when no path defaults (default: the same formula
    over every path, each at its own collateral value).
    """
    v = np.asarray(collateral_values, dtype=np.float64)
    d = np.asarray(defaulted, dtype=bool)
    if v.ndim != 1 or v.shape != d.shape or not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ConventionError(
            "The `collateral_values` must be finite, non-negative, one per path.",
            field="collateral_values",
        )
    ead = np.broadcast_to(np.asarray(exposure, dtype=np.float64), v.shape)
    if not np.all(np.isfinite(ead)) or np.any(ead <= 0):
        raise ConventionError("The `exposure` must be positive.", field="exposure")
    prior = np.broadcast_to(np.asarray(prior_claims, dtype=np.float64), v.shape)
    if not np.all(np.isfinite(prior)) or np.any(prior < 0):
        raise ConventionError("The `prior_claims` must be non-negative.", field="prior_claims")
    dd = _decimal(distressed_discount, "distressed_discount", 0.0, 1.0)
    lc = _decimal(liquidation_cost, "liquidation_cost", 0.0, 1.0)
    wc = _decimal(workout_cost, "workout_cost", 0.0, 1.0)
    floor = _decimal(lgd_floor, "lgd_floor", 0.0, 1.0)
    rate = _decimal(workout_rate, "workout_rate", 0.0, 1.0)
    if (
        isinstance(time_to_recover_months, bool)
        or not isinstance(time_to_recover_months, int | float)
        or not (math.isfinite(time_to_recover_months) and 0 <= time_to_recover_months <= 120)
    ):
        raise ConventionError(
            f"The `time_to_recover_months` must be in [0, 120]. Got {time_to_recover_months!r}.",
            field="time_to_recover_months",
        )
    df = (1.0 + rate) ** (-float(time_to_recover_months) / 12.0)
    proceeds = np.maximum(0.0, v * (1.0 - dd) * (1.0 - lc) * df - prior)
    recovery = np.clip(proceeds - wc * ead, 0.0, ead)
    loss = ead - recovery
    n_def = int(d.sum())
    if n_def:
        unfloored = float(loss[d].sum() / ead[d].sum())
        rates = loss[d] / ead[d]
        se = float(rates.std(ddof=1) / math.sqrt(n_def)) if n_def > 1 else 0.0
    else:
        unfloored = float(loss.sum() / ead.sum()) if fallback is None else float(fallback)
        se = 0.0
    lgd = max(floor, unfloored)
    return WorkoutLgd(
        lgd=lgd,
        unfloored=unfloored,
        floor=floor,
        std_error=se,
        n_default_paths=n_def,
        recovery_rate=1.0 - lgd,
    )
