"""Collateral: haircuts, lending value, advance rates, exposure after mitigation, pledge capacity.

Haircut of a data asset
    The project's one haircut, `valuation.haircut`:
    ``H = max(H_floor, 1 - q_alpha(V_H) / V_0 x (1 - c_liq))``, where ``q_alpha`` is the
    ``alpha`` quantile (default 5 %) of the value at the end of the liquidation horizon
    (discounted to today) on the valuation's paths and ``c_liq`` the liquidation cost (a
    fraction of proceeds). Lending value = ``V_0 (1 - H)``; maximum loan =
    ``min(advance rate x V_0, lending value)``: the advance rate is a share of appraised
    value, as in IP-backed lending, and the lending value caps it.

Supervisory haircut (Basel comprehensive approach, CRE22.57-22.59)
    ``H = H_M sqrt((N_R + T_M - 1) / T_M)`` with ``H_M`` the haircut for a holding
    period of ``T_M`` business days and ``N_R`` the actual days between remargining or
    revaluation. A haircut quoted for 10 days scales as ``H_M = H_10 sqrt(T_M / 10)``.

Exposure after mitigation (CRE22.40)
    ``E* = max(0, E (1 + H_E) - C (1 - H_C - H_FX))``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from valuation._typing import FloatArray
from valuation.errors import ConventionError
from valuation.haircut import haircut_from_quantile

#: Advance rates (maximum loan / appraised value) by data-asset category. Anchored to
#: IP-backed lending, the closest mature analogue: 10-60 % of appraised value in
#: practice, one large Chinese bank capping invention patents at 25 %, utility models
#: at 15 % and trademarks at 50 % (public reports 2023-2025, see DESIGN.md "Market
#: facts"). Categories with recurring, contractible revenue (financial, industrial)
#: sit at the upper end; personal-data-heavy categories (healthcare, consumer), whose
#: disposal is restricted, at the lower end. Every bank can override the table.
DEFAULT_ADVANCE_RATES: Mapping[str, float] = MappingProxyType(
    {
        "financial": 0.50,
        "industrial": 0.45,
        "geospatial": 0.40,
        "consumer": 0.30,
        "healthcare": 0.20,
        "other": 0.25,
    }
)
#: Bounds every advance rate must respect (IP-lending range used as the policy envelope).
ADVANCE_RATE_BOUNDS = (0.15, 0.60)
#: Default liquidation cost of a data asset, fraction of value (disposal through an
#: exchange: listing, legal transfer of rights, discount for a forced sale). Assumption.
DEFAULT_LIQUIDATION_COST = 0.10
#: Default lending quantile of the values at the end of the liquidation horizon.
DEFAULT_HAIRCUT_QUANTILE = 0.05
#: Tenor and LTV above which an origination carries a warning (market practice for data
#: loans: mostly one year or less, up to three; IP advance rates up to 60 %).
WARN_TENOR_MONTHS = 36
WARN_LTV = 0.60


def _finite(value: float, name: str, *, positive: bool = False, nonneg: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating)
        or not math.isfinite(value)
    ):
        raise ConventionError(f"The `{name}` must be a finite number. Got {value!r}.", field=name)
    if positive and value <= 0:
        raise ConventionError(f"The `{name}` must be positive. Got {value!r}.", field=name)
    if nonneg and value < 0:
        raise ConventionError(f"The `{name}` must not be negative. Got {value!r}.", field=name)
    return float(value)


def _fraction(value: float, name: str) -> float:
    v = _finite(value, name)
    if not 0.0 <= v <= 1.0:
        raise ConventionError(
            f"The `{name}` must be a decimal in [0, 1]. Got {value!r}.", field=name
        )
    return v


def supervisory_haircut(h_m: float, t_m_days: float, n_r_days: float) -> float:
    """Basel scaled haircut ``H = H_M sqrt((N_R + T_M - 1) / T_M)``.

    Parameters
    ----------
    h_m : float
        Haircut for the minimum holding period ``T_M`` (decimal, >= 0).
    t_m_days : float
        Minimum holding period in business days (> 0), e.g. 5, 10 or 20.
    n_r_days : float
        Actual business days between remargining / revaluation (>= 1).

    Examples
    --------
    >>> round(supervisory_haircut(0.15 * (20 / 10) ** 0.5, 20, 5), 12)
    0.232379000772
    """
    h = _finite(h_m, "h_m", nonneg=True)
    t = _finite(t_m_days, "t_m_days", positive=True)
    n = _finite(n_r_days, "n_r_days")
    if n < 1:
        raise ConventionError(
            f"The `n_r_days` must be at least 1. Got {n_r_days!r}.", field="n_r_days"
        )
    return h * math.sqrt((n + t - 1.0) / t)


def scale_ten_day_haircut(h_10: float, t_m_days: float) -> float:
    """``H_M = H_10 sqrt(T_M / 10)``: a 10-business-day haircut restated for ``T_M`` days."""
    return _finite(h_10, "h_10", nonneg=True) * math.sqrt(
        _finite(t_m_days, "t_m_days", positive=True) / 10.0
    )


def exposure_after_mitigation(
    e: float, c: float, h_e: float = 0.0, h_c: float = 0.0, h_fx: float = 0.0
) -> float:
    """``E* = max(0, E (1 + H_E) - C (1 - H_C - H_FX))`` (currency of ``e``)."""
    e = _finite(e, "e", nonneg=True)
    c = _finite(c, "c", nonneg=True)
    return max(
        0.0,
        e * (1.0 + _finite(h_e, "h_e", nonneg=True))
        - c * (1.0 - _finite(h_c, "h_c", nonneg=True) - _finite(h_fx, "h_fx", nonneg=True)),
    )


@dataclass(frozen=True, slots=True)
class AdvancePolicy:
    """Advance rates by category (decimals of appraised value); unknown categories use ``other``.

    Every rate must lie within ``bounds`` (default 15-60 %, the IP-lending range);
    ``AdvancePolicy.with_overrides({"consumer": 0.35})`` gives a bank's own table.
    """

    rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ADVANCE_RATES))
    bounds: tuple[float, float] = ADVANCE_RATE_BOUNDS

    def __post_init__(self) -> None:
        lo, hi = self.bounds
        if not 0.0 <= lo <= hi <= 1.0:
            raise ConventionError(
                f"The `bounds` must satisfy 0 <= low <= high <= 1. Got {self.bounds!r}.",
                field="bounds",
            )
        if "other" not in self.rates:
            raise ConventionError(
                "The advance-rate table needs an `other` entry.", field="advance_rates.other"
            )
        for name, rate in self.rates.items():
            if not isinstance(rate, int | float) or not lo <= float(rate) <= hi:
                raise ConventionError(
                    f"The advance rate for `{name}` must be a decimal in [{lo}, {hi}]. Got {rate!r}.",
                    field=f"advance_rates.{name}",
                )
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))

    def advance_rate(self, category: str) -> float:
        """Return the advance rate of ``category`` (decimal)."""
        return float(self.rates.get(category, self.rates["other"]))

    def with_overrides(self, overrides: Mapping[str, float]) -> AdvancePolicy:
        """Return this policy with the given categories' advance rates replaced."""
        return AdvancePolicy({**self.rates, **overrides}, self.bounds)


def monte_carlo_haircut(
    value_0: float,
    horizon_values: FloatArray,
    *,
    quantile: float = DEFAULT_HAIRCUT_QUANTILE,
    liquidation_cost: float = DEFAULT_LIQUIDATION_COST,
    floor: float = 0.0,
) -> tuple[float, float]:
    """Haircut from simulated values at the end of the liquidation horizon.

    The project's one haircut (`valuation.haircut`):
    ``haircut = max(floor, 1 - q(V_H) / V_0 x (1 - liquidation_cost))``.

    Parameters
    ----------
    value_0 : float
        Value today (> 0).
    horizon_values : array (n_paths,)
        Value at the end of the liquidation horizon on each path, discounted to today.
    quantile : float
        Lending quantile of ``V_H`` (default 0.05).
    liquidation_cost : float
        Fraction of proceeds lost in disposal.
    floor : float
        Minimum haircut (e.g. 0.30, Basel's standardised haircut for other collateral).

    Returns
    -------
    (haircut, market_haircut)
        ``market_haircut = max(0, 1 - q(V_H) / V_0)`` (the fall in value alone).
    """
    v0 = _finite(value_0, "value_0", positive=True)
    v = np.asarray(horizon_values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
        raise ConventionError(
            "The `horizon_values` must be a non-empty 1-d array of finite values.",
            field="horizon_values",
        )
    q = _fraction(quantile, "quantile")
    c = _fraction(liquidation_cost, "liquidation_cost")
    f = _fraction(floor, "floor")
    q_value = float(np.quantile(v, q))
    market = max(0.0, 1.0 - q_value / v0)
    return float(haircut_from_quantile(v0, q_value, liquidation_cost=c, floor=f)), market


@dataclass(frozen=True, slots=True)
class CollateralAssessment:
    """What a collateral desk needs for one pledged asset (amounts in the value's currency)."""

    value: float
    haircut: float
    market_haircut: float
    liquidation_cost: float
    lending_value: float
    advance_rate: float
    max_loan: float
    ltv: float | None
    warnings: tuple[str, ...]


def lending_value(value: float, haircut: float) -> float:
    """``value x (1 - haircut)``."""
    return _finite(value, "value", nonneg=True) * (1.0 - _fraction(haircut, "haircut"))


def max_loan(value: float, haircut: float, advance_rate: float) -> float:
    """Maximum loan against one asset: ``min(advance_rate x value, value x (1 - haircut))``."""
    adv = _fraction(advance_rate, "advance_rate")
    return min(adv * _finite(value, "value", nonneg=True), lending_value(value, haircut))


def origination_warnings(
    principal: float | None, value: float, tenor_months: int | None
) -> tuple[str, ...]:
    """Warnings when the tenor exceeds 36 months or LTV (principal / value) exceeds 60 %."""
    out = []
    if tenor_months is not None and tenor_months > WARN_TENOR_MONTHS:
        out.append(f"tenor {tenor_months} months exceeds {WARN_TENOR_MONTHS} months")
    if principal is not None and value > 0 and principal / value > WARN_LTV:
        out.append(f"LTV {principal / value:.1%} exceeds {WARN_LTV:.0%}")
    return tuple(out)


def assess_collateral(
    value_0: float,
    horizon_values: FloatArray,
    category: str,
    *,
    principal: float | None = None,
    tenor_months: int | None = None,
    policy: AdvancePolicy | None = None,
    quantile: float = DEFAULT_HAIRCUT_QUANTILE,
    liquidation_cost: float = DEFAULT_LIQUIDATION_COST,
    floor: float = 0.0,
) -> CollateralAssessment:
    """Haircut, lending value, advance rate, maximum loan, LTV and warnings for one asset.

    ``max_loan = min(advance_rate(category) x value_0, lending_value)``; ``ltv = principal / value_0``.
    """
    haircut, market = monte_carlo_haircut(
        value_0, horizon_values, quantile=quantile, liquidation_cost=liquidation_cost, floor=floor
    )
    pol = policy or AdvancePolicy()
    lv = lending_value(value_0, haircut)
    adv = pol.advance_rate(category)
    if principal is not None:
        _finite(principal, "principal", positive=True)
    ltv = None if principal is None else principal / value_0
    return CollateralAssessment(
        value=float(value_0),
        haircut=haircut,
        market_haircut=market,
        liquidation_cost=liquidation_cost,
        lending_value=lv,
        advance_rate=adv,
        max_loan=min(adv * float(value_0), lv),
        ltv=ltv,
        warnings=origination_warnings(principal, value_0, tenor_months),
    )


def available_capacity(lending_value: float, pledged_amounts: FloatArray | list[float]) -> float:
    """Lending value not yet pledged to live loans (never negative)."""
    lv = _finite(lending_value, "lending_value", nonneg=True)
    used = (
        float(np.sum(np.asarray(pledged_amounts, dtype=np.float64)))
        if len(pledged_amounts)
        else 0.0
    )
    return max(0.0, lv - used)


def can_pledge(
    lending_value: float, pledged_amounts: FloatArray | list[float], amount: float
) -> bool:
    """Tell whether ``amount`` fits in the asset's unpledged lending value (1e-9 relative slack)."""
    amt = _finite(amount, "amount", positive=True)
    return amt <= available_capacity(lending_value, pledged_amounts) * (1 + 1e-12) + 1e-9
