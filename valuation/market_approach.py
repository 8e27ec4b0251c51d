"""Market approach: comparable exchange transactions, adjusted factor by factor or by regression.

Comparables used: same ``category`` as the asset, in the valuation currency, traded on
or before ``as_of`` and within ``lookback_months`` (others are counted and left out;
no FX conversion happens in the core).

Factor adjustment (at least `MIN_COMPARABLES`), per comparable ``i``:

``P_i* = P_i * f_quality * f_volume * f_date * f_rights``

- quality:  ``q_asset / q_i`` (``q_asset`` the asset's weighted GB/T 36344 score); 1 for
  a comparable without a score (0);
- volume:   ``(records_asset / records_i) ** size_elasticity`` (default 0.4: the
  exchange's observed elasticity of price to size, below one because value grows
  less than proportionally with rows); 1 when either size is unknown (0 records);
- date:     ``(1 + market_growth_rate) ** years`` since the trade (ACT/365F, default 0);
- rights:   ``scope_asset / scope_i`` (`Rights.scope_score`; a comparable's
  ``rights_scope``: processing_use 0.3 < product_operation 0.6 < holding 1.0);

each factor clipped to ``[1/3, 3]``. Timeliness of the evidence weights the
comparables: ``w_i = 0.5 ** (age_months / evidence_half_life_months)`` (default 12).
The value is the weighted mean of ``P_i*``.

Hedonic regression (at least `MIN_HEDONIC` comparables): OLS of ``ln P`` on
``ln records``, ``ln quality``, ``ln scope`` and ``years since trade`` (regressors that do
not vary are dropped); the asset's price is ``exp(x_asset b)`` times Duan's smearing
factor ``mean(exp(residuals))``, with ``years = 0``. The factor-adjusted value is
kept in the diagnostics.

References
----------
China Appraisal Society, *Guidance on Data Asset Appraisal* (2023), market approach:
comparable transactions adjusted for quality, volume, date, rights and timeliness.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from valuation.asset import QUALITY_DIMENSIONS
from valuation.conventions import DayCount, parse_date, year_fraction
from valuation.errors import ConventionError, InsufficientDataError
from valuation.market import MarketData
from valuation.params import Constraint, Number, OneOf, WeightMap, check_params
from valuation.results import MethodResult, ValuationInputs

MIN_COMPARABLES = 3
MIN_HEDONIC = 10
FACTOR_BOUNDS = (1.0 / 3.0, 3.0)
SCOPE_SCORES: Mapping[str, float] = {
    "processing_use": 0.3,
    "product_operation": 0.6,
    "holding": 1.0,
    "full": 1.0,
}


def scope_score(scope: object, *, field: str = "rights_scope") -> float:
    """Score of a comparable's ``rights_scope`` (tokens separated by , + | ; or spaces: the widest)."""
    if not isinstance(scope, str) or not scope.strip():
        raise ConventionError(
            f"The `{field}` must name the rights acquired ({', '.join(SCOPE_SCORES)}). Got {scope!r}.",
            field=field,
        )
    tokens = [t for t in re.split(r"[,+|;\s]+", scope.strip().lower()) if t]
    unknown = [t for t in tokens if t not in SCOPE_SCORES and t not in ("exclusive", "non_exclusive")]
    if unknown or not any(t in SCOPE_SCORES for t in tokens):
        raise ConventionError(
            f"The `{field}` must name the rights acquired ({', '.join(SCOPE_SCORES)}). Got {scope!r}.",
            field=field,
        )
    return max(SCOPE_SCORES[t] for t in tokens if t in SCOPE_SCORES)


class MarketValuer:
    """Market approach (factor-adjusted comparables; hedonic regression with enough of them).

    Parameters
    ----------
    size_elasticity : float
        Elasticity of price to records, in [0, 2]. Default 0.4.
    market_growth_rate : float
        Annual price-index growth used to restate old trades, decimal in (-1, 1). Default 0.
    lookback_months : int
        Oldest trade used, months before as_of, >= 1. Default 36.
    evidence_half_life_months : float
        Half-life of a comparable's weight with its age, months, > 0. Default 12.
    hedonic : bool
        Use the regression when there are at least `MIN_HEDONIC` comparables. Default True.
    quality_weights : mapping or None
        Weights of the six GB/T 36344 dimensions for the asset's quality score.
    """

    params_schema: ClassVar[Mapping[str, Constraint]] = {
        "size_elasticity": Number(0.0, 2.0),
        "market_growth_rate": Number(-1.0, 1.0, lo_open=True, hi_open=True),
        "lookback_months": Number(1, 600, integer=True),
        "evidence_half_life_months": Number(0.0, lo_open=True),
        "hedonic": OneOf((True, False)),
        "quality_weights": WeightMap(QUALITY_DIMENSIONS),
    }

    def __init__(
        self,
        *,
        size_elasticity: float = 0.4,
        market_growth_rate: float = 0.0,
        lookback_months: int = 36,
        evidence_half_life_months: float = 12.0,
        hedonic: bool = True,
        quality_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.size_elasticity = size_elasticity
        self.market_growth_rate = market_growth_rate
        self.lookback_months = lookback_months
        self.evidence_half_life_months = evidence_half_life_months
        self.hedonic = hedonic
        self.quality_weights = quality_weights

    def _select(self, inputs: ValuationInputs, as_of: date, lookback: int) -> tuple[pd.DataFrame, dict[str, int]]:
        comps = inputs.comparables
        rows: list[dict[str, Any]] = []
        skipped = {"other_category": 0, "other_currency": 0, "after_as_of": 0, "too_old": 0}
        for i, rec in enumerate(comps.to_dict("records")):
            traded = rec.get("traded_on")
            if isinstance(traded, pd.Timestamp):
                traded = traded.date()
            traded_on = parse_date(traded, field=f"comparables.{i}.traded_on")
            price = rec.get("price")
            try:
                price_f = float(price)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                price_f = float("nan")
            if not math.isfinite(price_f) or price_f <= 0:
                raise ConventionError(
                    f"The `comparables.{i}.price` must be a positive amount. Got {price!r}.",
                    field=f"comparables.{i}.price",
                )
            records = rec.get("records")
            if (
                isinstance(records, bool)
                or not isinstance(records, int | float | np.integer | np.floating)
                or not records >= 0
            ):
                raise ConventionError(
                    f"The `comparables.{i}.records` must be a non-negative count (0: unknown). "
                    f"Got {records!r}.",
                    field=f"comparables.{i}.records",
                )
            q = rec.get("quality_score")
            if isinstance(q, bool) or not isinstance(q, int | float | np.floating) or not (0.0 <= q <= 1.0):
                raise ConventionError(
                    f"The `comparables.{i}.quality_score` must be in [0, 1] (0: not scored). Got {q!r}.",
                    field=f"comparables.{i}.quality_score",
                )
            scope = scope_score(rec.get("rights_scope"), field=f"comparables.{i}.rights_scope")
            if rec.get("category") != inputs.asset.category:
                skipped["other_category"] += 1
                continue
            if rec.get("currency") != inputs.currency:
                skipped["other_currency"] += 1
                continue
            if traded_on > as_of:
                skipped["after_as_of"] += 1
                continue
            age_years = year_fraction(traded_on, as_of, DayCount.ACT_365F)
            if age_years * 12.0 > lookback:
                skipped["too_old"] += 1
                continue
            rows.append(
                {
                    "price": price_f,
                    "records": float(records),
                    "quality": float(q),
                    "scope": scope,
                    "age_years": age_years,
                    "traded_on": traded_on.isoformat(),
                }
            )
        return pd.DataFrame(rows), skipped

    def value(self, inputs: ValuationInputs, *, as_of: date, market: MarketData) -> MethodResult:
        """Value by the market approach.

        Raises
        ------
        InsufficientDataError
            Fewer than `MIN_COMPARABLES` usable comparables.
        """
        p = check_params(self)
        frame, skipped = self._select(inputs, as_of, int(p["lookback_months"]))
        n = len(frame)
        if n < MIN_COMPARABLES:
            raise InsufficientDataError(
                f"The market approach needs at least {MIN_COMPARABLES} comparables of category "
                f"{inputs.asset.category!r} in {inputs.currency} traded within "
                f"{p['lookback_months']} months before as_of. Got {n} "
                f"(of {len(inputs.comparables)}; left out: {skipped}).",
                field="comparables",
            )
        asset = inputs.asset
        q_asset = asset.quality.score(p["quality_weights"])
        s_asset = asset.rights.scope_score()
        lo, hi = FACTOR_BOUNDS
        price = frame["price"].to_numpy()
        age = frame["age_years"].to_numpy()
        comp_quality = frame["quality"].to_numpy()
        scored = comp_quality > 0
        f_quality = np.clip(np.where(scored, q_asset / np.where(scored, comp_quality, 1.0), 1.0), lo, hi)
        comp_records = frame["records"].to_numpy()
        known = comp_records > 0
        if asset.records > 0:
            ratio = np.where(known, asset.records / np.where(known, comp_records, 1.0), 1.0)
        else:
            ratio = np.ones_like(comp_records)
        f_volume = np.clip(ratio ** p["size_elasticity"], lo, hi)
        f_date = np.clip((1.0 + p["market_growth_rate"]) ** age, lo, hi)
        f_rights = np.clip(s_asset / frame["scope"].to_numpy(), lo, hi)
        adjusted = price * f_quality * f_volume * f_date * f_rights
        weights = 0.5 ** (age * 12.0 / p["evidence_half_life_months"])
        factor_value = float(adjusted @ weights / weights.sum())
        assumptions: dict[str, Any] = {
            "size_elasticity": p["size_elasticity"],
            "market_growth_rate": p["market_growth_rate"],
            "lookback_months": p["lookback_months"],
            "evidence_half_life_months": p["evidence_half_life_months"],
            "factor_bounds": list(FACTOR_BOUNDS),
            "quality_weights": p["quality_weights"] or "equal",
            "asset_quality_score": q_asset,
            "asset_scope_score": s_asset,
        }
        diagnostics: dict[str, Any] = {
            "comparables_used": n,
            "left_out": skipped,
            "factor_value": factor_value,
            "adjusted_prices": [float(x) for x in adjusted],
            "adjusted_low": float(adjusted.min()),
            "adjusted_high": float(adjusted.max()),
        }
        value = factor_value
        method = "factor_adjustment"
        usable = frame[(known if asset.records > 0 else True) & scored & (q_asset > 0)]
        if p["hedonic"] and len(usable) >= MIN_HEDONIC:
            hed = _hedonic(usable, records=asset.records or None, quality=q_asset, scope=s_asset)
            if hed is not None:
                value, info = hed
                diagnostics["hedonic"] = info
                method = "hedonic_regression"
        assumptions["method"] = method
        return MethodResult("market", max(value, 0.0), inputs.currency, as_of, assumptions, diagnostics)


def _hedonic(
    frame: pd.DataFrame, *, records: float | None, quality: float, scope: float
) -> tuple[float, dict[str, Any]] | None:
    """OLS of log price on log records, log quality, log scope and age; None if not identified.

    ``records=None`` (size unknown) leaves ``ln records`` out of the regression.
    """
    cols = {
        "ln_quality": np.log(frame["quality"].to_numpy()),
        "ln_scope": np.log(frame["scope"].to_numpy()),
        "age_years": frame["age_years"].to_numpy(),
    }
    target = {"ln_quality": math.log(quality), "ln_scope": math.log(scope), "age_years": 0.0}
    if records is not None:
        cols = {"ln_records": np.log(frame["records"].to_numpy()), **cols}
        target["ln_records"] = math.log(records)
    names = [k for k, v in cols.items() if np.ptp(v) > 1e-12]
    y = np.log(frame["price"].to_numpy())
    n = y.shape[0]
    if n - (len(names) + 1) < 3:
        return None
    x = np.column_stack([np.ones(n)] + [cols[k] for k in names])
    coef, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    if rank < x.shape[1]:
        return None
    resid = y - x @ coef
    smear = float(np.mean(np.exp(resid)))
    x0 = np.array([1.0] + [target[k] for k in names])
    value = float(np.exp(x0 @ coef) * smear)
    r2 = 1.0 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum()) if np.ptp(y) > 0 else 1.0
    info = {
        "coefficients": {"const": float(coef[0]), **{k: float(c) for k, c in zip(names, coef[1:], strict=True)}},
        "r_squared": r2,
        "residual_sd": float(np.sqrt(resid @ resid / (n - x.shape[1]))),
        "smearing": smear,
        "n": n,
    }
    return value, info
