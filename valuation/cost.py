"""Cost approach: replacement cost of the cost records, restated to the valuation date.

Notes
-----
``V = RC * (1 + profit_margin) * (1 + tax_rate) * Q * (1 - obsolescence)``

- ``RC``: every occurrence of every cost record incurred on or before ``as_of``
  (a record with ``recurring_months = n >= 2`` occurs monthly ``n`` times from
  ``incurred_on``; 0 or 1 is one-off), each restated to ``as_of`` by a cost index
  growing at ``cost_inflation_rate`` (annual effective, ACT/365F);
- ``profit_margin``: the developer's reasonable profit on cost, default 10 %;
- ``tax_rate``: taxes a rebuild would bear, default 6 % (PRC VAT rate on modern
  services, Caishui [2016] No. 36);
- ``Q``: quality coefficient, the weighted mean of the six GB/T 36344 quality scores
  (equal weights by default, overridable through ``quality_weights``);
- ``obsolescence``: ``1 - 0.5 ** (age / H)``, ``age`` the cost-weighted mean age of
  the occurrences in months and ``H`` the obsolescence half-life (from the asset's
  timeliness and refresh profile unless given), or a given fraction in [0, 1).

References
----------
China Appraisal Society, *Guidance on Data Asset Appraisal* (2023), cost approach:
``value = replacement cost x (1 - depreciation)`` with a data-quality adjustment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from valuation._typing import FloatArray
from valuation.asset import QUALITY_DIMENSIONS
from valuation.conventions import DayCount, add_months, parse_currency, parse_date, year_fraction
from valuation.errors import ConventionError, InsufficientDataError
from valuation.forecast import default_half_life_months
from valuation.market import MarketData
from valuation.params import MIN_HALF_LIFE_MONTHS, Constraint, Number, WeightMap, check_params
from valuation.results import MethodResult, ValuationInputs

DEFAULT_PROFIT_MARGIN = 0.10
DEFAULT_COST_TAX_RATE = 0.06
DEFAULT_COST_INFLATION_RATE = 0.02  # PBoC's ~2 % CPI anchor, as a restatement index


#: Days of the window over which recurring costs are averaged into a monthly run-rate.
RUN_RATE_DAYS = 365


@dataclass(frozen=True, slots=True)
class CostOccurrences:
    """Cost occurrences up to ``as_of`` (one row per monthly occurrence).

    Attributes
    ----------
    amounts : FloatArray, shape (n,)
        Amount of each occurrence, major units.
    age_months : FloatArray, shape (n,)
        Age at ``as_of`` in months (ACT/365F years x 12).
    age_years : FloatArray, shape (n,)
        Age at ``as_of`` in ACT/365F years.
    monthly_run_rate : float
        Run-rate of recurring costs over the 365 days before ``as_of``: each recurring
        record's monthly amount times the share of that year it was active (so a cost
        that ended on ``as_of`` still counts, and moving ``as_of`` by a day moves the
        run-rate by at most 1/365 of each amount).
    """

    amounts: FloatArray
    age_months: FloatArray
    age_years: FloatArray
    monthly_run_rate: float


def cost_occurrences(costs: pd.DataFrame, *, as_of: date, currency: str) -> CostOccurrences:
    """Expand the cost records into dated occurrences on or before ``as_of``.

    Raises
    ------
    ConventionError
        A record in another currency, a negative or non-finite amount, a bad date or a
        negative ``recurring_months``.
    """
    amounts: list[float] = []
    ages: list[float] = []
    run_rate = 0.0
    columns = [str(c) for c in costs.columns]
    for i, row in enumerate(costs.itertuples(index=False, name=None)):
        rec: dict[str, Any] = dict(zip(columns, row, strict=True))
        ccy = rec.get("currency")
        if ccy != currency:
            parse_currency(ccy, field=f"costs.{i}.currency")
            raise ConventionError(
                f"The `costs.{i}.currency` must be the valuation currency {currency}. Got {ccy!r}; "
                "convert the record first.",
                field=f"costs.{i}.currency",
            )
        amount: Any = rec.get("amount")
        try:
            amount_f = float(amount)
        except (TypeError, ValueError):
            amount_f = float("nan")
        if not np.isfinite(amount_f) or amount_f < 0:
            raise ConventionError(
                f"The `costs.{i}.amount` must be a finite non-negative amount. Got {amount!r}.",
                field=f"costs.{i}.amount",
            )
        inc = rec.get("incurred_on")
        if isinstance(inc, pd.Timestamp):
            inc = inc.date()
        start = parse_date(inc, field=f"costs.{i}.incurred_on")
        n_rec = rec.get("recurring_months")
        n_rec = 0 if n_rec is None or (isinstance(n_rec, float) and np.isnan(n_rec)) else n_rec
        if isinstance(n_rec, bool) or not float(n_rec).is_integer() or n_rec < 0:
            raise ConventionError(
                f"The `costs.{i}.recurring_months` must be a non-negative integer. Got {n_rec!r}.",
                field=f"costs.{i}.recurring_months",
            )
        n = max(int(n_rec), 1)
        for j in range(n):
            d = add_months(start, j)
            if d > as_of:
                break
            amounts.append(amount_f)
            ages.append(year_fraction(d, as_of, DayCount.ACT_365F))
        if n >= 2:
            window = as_of - timedelta(days=RUN_RATE_DAYS)
            active = (min(add_months(start, n), as_of) - max(start, window)).days
            run_rate += amount_f * max(active, 0) / RUN_RATE_DAYS
    age_years = np.asarray(ages, dtype=np.float64)
    return CostOccurrences(
        amounts=np.asarray(amounts, dtype=np.float64),
        age_months=age_years * 12.0,
        age_years=age_years,
        monthly_run_rate=run_rate,
    )


class CostValuer:
    """Cost approach (replacement cost, profit, taxes, quality, obsolescence).

    Parameters
    ----------
    profit_margin : float
        Reasonable profit on cost, decimal in [0, 1]. Default 0.10.
    tax_rate : float
        Taxes on a rebuild, decimal in [0, 1). Default 0.06.
    cost_inflation_rate : float
        Annual cost-index growth used to restate past costs, decimal in (-1, 1). Default 0.02.
    obsolescence : float or None
        Fraction of value lost to obsolescence in [0, 1); None derives it from age and
        half-life.
    half_life_months : float or None
        Obsolescence half-life in months (> 0); None takes the asset's default.
    quality_weights : mapping or None
        Weights of the six GB/T 36344 dimensions; None means equal weights.
    """

    params_schema: ClassVar[Mapping[str, Constraint]] = {
        "profit_margin": Number(0.0, 1.0),
        "tax_rate": Number(0.0, 1.0, hi_open=True),
        "cost_inflation_rate": Number(-1.0, 1.0, lo_open=True, hi_open=True),
        "obsolescence": Number(0.0, 1.0, hi_open=True, optional=True),
        "half_life_months": Number(MIN_HALF_LIFE_MONTHS, optional=True),
        "quality_weights": WeightMap(QUALITY_DIMENSIONS),
    }

    def __init__(
        self,
        *,
        profit_margin: float = DEFAULT_PROFIT_MARGIN,
        tax_rate: float = DEFAULT_COST_TAX_RATE,
        cost_inflation_rate: float = DEFAULT_COST_INFLATION_RATE,
        obsolescence: float | None = None,
        half_life_months: float | None = None,
        quality_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.profit_margin = profit_margin
        self.tax_rate = tax_rate
        self.cost_inflation_rate = cost_inflation_rate
        self.obsolescence = obsolescence
        self.half_life_months = half_life_months
        self.quality_weights = quality_weights

    def value(
        self,
        inputs: ValuationInputs,
        *,
        as_of: date,
        market: MarketData,  # noqa: ARG002 - the valuer interface; this approach needs no curve
    ) -> MethodResult:
        """Value by the cost approach.

        Raises
        ------
        InsufficientDataError
            No cost record incurred on or before ``as_of``.
        """
        p = check_params(self)
        occ = cost_occurrences(inputs.costs, as_of=as_of, currency=inputs.currency)
        if occ.amounts.size == 0:
            raise InsufficientDataError(
                "The cost approach needs at least one cost record incurred on or before as_of. "
                f"Got {len(inputs.costs)} record(s), none before {as_of}.",
                field="costs",
            )
        restated = occ.amounts * np.power(1.0 + p["cost_inflation_rate"], occ.age_years)
        replacement = float(restated.sum())
        quality = inputs.asset.quality.score(p["quality_weights"])
        half_life = p["half_life_months"] or default_half_life_months(inputs.asset)
        if replacement > 0:
            age = float((restated * occ.age_months).sum() / replacement)
        else:
            age = float(occ.age_months.mean())
        if p["obsolescence"] is None:
            obsolescence = 1.0 - 0.5 ** (age / half_life)
            obs_source = "1 - 0.5 ** (age_months / half_life_months)"
        else:
            obsolescence = float(p["obsolescence"])
            obs_source = "given"
        value = (
            replacement
            * (1.0 + p["profit_margin"])
            * (1.0 + p["tax_rate"])
            * quality
            * (1.0 - obsolescence)
        )
        assumptions: dict[str, Any] = {
            "profit_margin": p["profit_margin"],
            "tax_rate": p["tax_rate"],
            "cost_inflation_rate": p["cost_inflation_rate"],
            "quality_weights": p["quality_weights"] or "equal",
            "quality_coefficient": quality,
            "half_life_months": half_life,
            "obsolescence": obsolescence,
            "obsolescence_source": obs_source,
        }
        diagnostics = {
            "replacement_cost": replacement,
            "historical_cost": float(occ.amounts.sum()),
            "occurrences": int(occ.amounts.size),
            "mean_age_months": age,
        }
        return MethodResult(
            "cost", max(value, 0.0), inputs.currency, as_of, assumptions, diagnostics
        )
