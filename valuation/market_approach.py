"""Market approach: comparable exchange transactions, adjusted factor by factor or by regression.

Comparables used: same ``category`` as the asset, in the valuation currency, traded on
or before ``as_of`` and within ``lookback_months`` (others are counted and left out;
no FX conversion happens in the core).

Adjustment factors, per comparable ``i``, each clipped to ``[1/3, 3]``:

- quality:  ``q_asset / q_i`` (``q_asset`` the asset's weighted GB/T 36344 score); 1 for
  a comparable without a score (0);
- volume:   ``(records_asset / records_i) ** size_elasticity`` (default 0.4: the
  exchange's observed elasticity of price to size, below one because value grows
  less than proportionally with rows); 1 when either size is unknown (0 records);
- date:     ``(1 + market_growth_rate) ** years`` since the trade (ACT/365F, default 0);
- rights:   ``scope_asset / scope_i``, both on one scale (`valuation.asset.rights_score`:
  holding 0.4 + processing-use 0.3 + product-operation 0.3, x0.8 unless exclusive,
  x0.9 unless cross-border); a comparable's ``rights_scope`` is read by `parse_scope`
  (``processing_use`` < ``product_operation`` < ``holding`` = ``full``, with the
  modifiers ``exclusive`` and ``cross_border``; without them a non-exclusive domestic grant).

Timeliness of the evidence weights the comparables:
``w_i = 0.5 ** (age_months / evidence_half_life_months)`` (default 12). Adjusted prices
(or multiples) further than 3 robust deviations from their median in logs are left out
(Hampel filter, `hampel_keep`; reported as ``outliers_left_out``).

Methods, the first that applies:

1. **Revenue multiple** (at least `MIN_COMPARABLES` comparables carry ``annual_revenue``
   and the asset has revenue in the year before ``as_of``): ``m_i = P_i / AR_i x
   f_quality x f_date x f_rights`` (revenue replaces records as the size driver), value
   ``= (sum w_i m_i / sum w_i) x AR_asset``, ``AR_asset`` the asset's revenue over the
   year before ``as_of`` (`trailing_annual_revenue`). The income-linked driver that
   data exchanges and appraisers use for data products with a revenue record.
2. **Hedonic regression** (at least `MIN_HEDONIC` comparables): OLS of ``ln P`` on
   ``ln records``, ``ln quality``, ``ln scope`` and ``years since trade`` (regressors that do
   not vary are dropped); the asset's price is ``exp(x_asset b)`` times Duan's smearing
   factor ``mean(exp(residuals))``, with ``years = 0``.
3. **Factor adjustment** (the present factor method): ``P_i* = P_i x f_quality x f_volume
   x f_date x f_rights``, value the weighted mean of ``P_i*`` (kept in the diagnostics
   whenever method 2 applies).

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

from valuation._typing import FloatArray
from valuation.asset import QUALITY_DIMENSIONS, rights_score
from valuation.conventions import DayCount, add_months, parse_date, year_fraction
from valuation.errors import ConventionError, InsufficientDataError
from valuation.market import MarketData
from valuation.params import (
    MIN_HALF_LIFE_MONTHS,
    Constraint,
    Number,
    OneOf,
    WeightMap,
    check_params,
)
from valuation.results import MethodResult, ValuationInputs

MIN_COMPARABLES = 3
MIN_HEDONIC = 10
FACTOR_BOUNDS = (1.0 / 3.0, 3.0)
#: Rights a comparable's ``rights_scope`` token conveys. A product-operation right
#: presupposes processing and use; the holding right (or ``full``) conveys all three.
SCOPE_RIGHTS: Mapping[str, frozenset[str]] = {
    "processing_use": frozenset({"processing_use"}),
    "product_operation": frozenset({"processing_use", "product_operation"}),
    "holding": frozenset({"holding", "processing_use", "product_operation"}),
    "full": frozenset({"holding", "processing_use", "product_operation"}),
}
#: Modifiers of a ``rights_scope``; without them a comparable is a non-exclusive,
#: domestic grant (what data exchanges mostly list).
SCOPE_MODIFIERS = ("exclusive", "non_exclusive", "cross_border", "domestic")


def parse_scope(scope: object, *, field: str = "rights_scope") -> dict[str, bool]:
    """Read a ``rights_scope`` (tokens separated by , + | ; or spaces) into rights flags.

    Right tokens (``processing_use``, ``product_operation``, ``holding``, ``full``) add up;
    ``exclusive`` / ``non_exclusive`` and ``cross_border`` / ``domestic`` qualify the grant.
    E.g. ``"product_operation+exclusive"``.
    """
    allowed = (*SCOPE_RIGHTS, *SCOPE_MODIFIERS)
    rule = (
        f"The `{field}` must name the rights acquired ({', '.join(SCOPE_RIGHTS)}), optionally "
        f"with {', '.join(SCOPE_MODIFIERS)}, joined by '+'. Got {scope!r}."
    )
    if not isinstance(scope, str) or not scope.strip() or len(scope) > 80:
        raise ConventionError(rule, field=field)
    tokens = [t for t in re.split(r"[,+|;\s]+", scope.strip().lower()) if t]
    if any(t not in allowed for t in tokens) or not any(t in SCOPE_RIGHTS for t in tokens):
        raise ConventionError(rule, field=field)
    if ("exclusive" in tokens and "non_exclusive" in tokens) or (
        "cross_border" in tokens and "domestic" in tokens
    ):
        raise ConventionError(rule + " Contradictory modifiers.", field=field)
    held: set[str] = set()
    for t in tokens:
        held |= SCOPE_RIGHTS.get(t, frozenset())
    return {
        "holding": "holding" in held,
        "processing_use": "processing_use" in held,
        "product_operation": "product_operation" in held,
        "exclusive": "exclusive" in tokens,
        "cross_border": "cross_border" in tokens,
    }


def scope_score(scope: object, *, field: str = "rights_scope") -> float:
    """Score of a comparable's ``rights_scope`` on the asset's scale (`valuation.asset.rights_score`)."""
    return rights_score(**parse_scope(scope, field=field))


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
        "evidence_half_life_months": Number(MIN_HALF_LIFE_MONTHS),
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

    def _select(
        self, inputs: ValuationInputs, as_of: date, lookback: int
    ) -> tuple[pd.DataFrame, dict[str, int]]:
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
            if (
                isinstance(q, bool)
                or not isinstance(q, int | float | np.floating)
                or not (0.0 <= q <= 1.0)
            ):
                raise ConventionError(
                    f"The `comparables.{i}.quality_score` must be in [0, 1] (0: not scored). Got {q!r}.",
                    field=f"comparables.{i}.quality_score",
                )
            scope = scope_score(rec.get("rights_scope"), field=f"comparables.{i}.rights_scope")
            ann = rec.get("annual_revenue")
            if ann is None or (isinstance(ann, float) and math.isnan(ann)):
                ann_f = 0.0
            elif (
                isinstance(ann, bool)
                or not isinstance(ann, int | float | np.integer | np.floating)
                or not (math.isfinite(ann) and ann >= 0)
            ):
                raise ConventionError(
                    f"The `comparables.{i}.annual_revenue` must be a non-negative amount or null "
                    f"(the product's revenue over the year before the trade). Got {ann!r}.",
                    field=f"comparables.{i}.annual_revenue",
                )
            else:
                ann_f = float(ann)
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
                    "annual_revenue": ann_f,
                    "age_years": age_years,
                    "traded_on": traded_on.isoformat(),
                }
            )
        return pd.DataFrame(rows), skipped

    def value(
        self,
        inputs: ValuationInputs,
        *,
        as_of: date,
        market: MarketData,  # noqa: ARG002 - the valuer interface; this approach needs no curve
    ) -> MethodResult:
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
        f_quality = np.clip(
            np.where(scored, q_asset / np.where(scored, comp_quality, 1.0), 1.0), lo, hi
        )
        comp_records = frame["records"].to_numpy()
        known = comp_records > 0
        if asset.records > 0:
            ratio = np.where(known, asset.records / np.where(known, comp_records, 1.0), 1.0)
        else:
            ratio = np.ones_like(comp_records)
        f_volume = np.clip(ratio ** p["size_elasticity"], lo, hi)
        f_date = np.clip((1.0 + p["market_growth_rate"]) ** age, lo, hi)
        f_rights = np.clip(s_asset / frame["scope"].to_numpy(), lo, hi)
        weights = 0.5 ** (age * 12.0 / p["evidence_half_life_months"])
        assumptions: dict[str, Any] = {
            "size_elasticity": p["size_elasticity"],
            "market_growth_rate": p["market_growth_rate"],
            "lookback_months": p["lookback_months"],
            "evidence_half_life_months": p["evidence_half_life_months"],
            "factor_bounds": list(FACTOR_BOUNDS),
            "outlier_rule": f"Hampel: |ln x - median| > {HAMPEL_K:g} x 1.4826 MAD left out",
            "quality_weights": p["quality_weights"] or "equal",
            "asset_quality_score": q_asset,
            "asset_scope_score": s_asset,
        }
        diagnostics: dict[str, Any] = {"comparables_used": n, "left_out": skipped}

        # revenue multiple: price / annual revenue, adjusted for quality, date and rights
        # (revenue replaces records as the size driver), times the asset's trailing revenue
        ann = frame["annual_revenue"].to_numpy()
        with_rev = ann > 0
        asset_rev = trailing_annual_revenue(inputs.signals, as_of)
        if int(with_rev.sum()) >= MIN_COMPARABLES and asset_rev is not None and asset_rev > 0:
            multiples = (price / np.where(with_rev, ann, 1.0) * f_quality * f_date * f_rights)[
                with_rev
            ]
            keep = hampel_keep(multiples)
            w = weights[with_rev][keep]
            multiple = float(multiples[keep] @ w / w.sum())
            adjusted = multiples[keep] * asset_rev
            assumptions["method"] = "revenue_multiple"
            assumptions["asset_annual_revenue"] = asset_rev
            assumptions["asset_annual_revenue_basis"] = (
                "revenue signals of the 12 months before as_of (annualised when fewer are observed)"
            )
            diagnostics.update(
                {
                    "comparables_used": int(keep.sum()),
                    "comparables_without_revenue": int((~with_rev).sum()),
                    "outliers_left_out": int((~keep).sum()),
                    "revenue_multiple": multiple,
                    "multiples": [float(x) for x in multiples[keep]],
                    "adjusted_prices": [float(x) for x in adjusted],
                    "adjusted_low": float(adjusted.min()),
                    "adjusted_high": float(adjusted.max()),
                }
            )
            return MethodResult(
                "market",
                max(multiple * asset_rev, 0.0),
                inputs.currency,
                as_of,
                assumptions,
                diagnostics,
            )

        adjusted_all = price * f_quality * f_volume * f_date * f_rights
        keep = hampel_keep(adjusted_all)
        adjusted = adjusted_all[keep]
        factor_value = float(adjusted @ weights[keep] / weights[keep].sum())
        diagnostics.update(
            {
                "comparables_used": int(keep.sum()),
                "outliers_left_out": int((~keep).sum()),
                "factor_value": factor_value,
                "adjusted_prices": [float(x) for x in adjusted],
                "adjusted_low": float(adjusted.min()),
                "adjusted_high": float(adjusted.max()),
            }
        )
        value = factor_value
        method = "factor_adjustment"
        if asset_rev is None or asset_rev <= 0 or int(with_rev.sum()) < MIN_COMPARABLES:
            diagnostics["revenue_multiple_unavailable"] = (
                "the asset has no revenue in the 12 months before as_of"
                if asset_rev is None or asset_rev <= 0
                else f"fewer than {MIN_COMPARABLES} comparables carry annual_revenue"
            )
        usable = frame[keep & (known if asset.records > 0 else True) & scored & (q_asset > 0)]
        if p["hedonic"] and len(usable) >= MIN_HEDONIC:
            hed = _hedonic(usable, records=asset.records or None, quality=q_asset, scope=s_asset)
            if hed is not None:
                value, info = hed
                diagnostics["hedonic"] = info
                method = "hedonic_regression"
        assumptions["method"] = method
        return MethodResult(
            "market", max(value, 0.0), inputs.currency, as_of, assumptions, diagnostics
        )


#: Hampel filter constant: an adjusted price further than this many robust deviations
#: (1.4826 x median absolute deviation of the logs) from the median is left out.
HAMPEL_K = 3.0


def hampel_keep(values: FloatArray) -> np.ndarray:
    """Return the mask of values kept by the Hampel filter on their logs.

    Mask of the values kept by the Hampel filter on their logs (all kept below 4 values or when the
    deviation is zero).
    """
    x = np.log(np.asarray(values, dtype=np.float64))
    if x.size < 4:
        return np.ones(x.size, dtype=bool)
    med = float(np.median(x))
    mad = 1.4826 * float(np.median(np.abs(x - med)))
    if mad <= 0:
        return np.ones(x.size, dtype=bool)
    return np.abs(x - med) <= HAMPEL_K * mad


def trailing_annual_revenue(signals: pd.DataFrame, as_of: date) -> float | None:
    """Return the asset's annualised revenue over the year before ``as_of``.

    The asset's revenue over the year before ``as_of``: complete months that ended in ``(as_of - 12
    months, as_of]``, annualised by 12 / months observed; None without any.
    """
    if signals is None or signals.empty:
        return None
    rev = signals[signals["metric"] == "revenue"]
    if rev.empty:
        return None
    months = pd.to_datetime(rev["month"]).dt.date
    start = add_months(as_of, -12)
    # complete months (ended on or before as_of) that ended within the year before as_of
    ends = months.map(lambda m: add_months(m.replace(day=1), 1))
    inside = (ends <= as_of) & (ends > start)
    values = pd.to_numeric(rev.loc[inside.to_numpy(), "value"], errors="coerce").dropna()
    if values.empty:
        return None
    return float(values.sum() * 12.0 / len(values))


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
        "coefficients": {
            "const": float(coef[0]),
            **{k: float(c) for k, c in zip(names, coef[1:], strict=True)},
        },
        "r_squared": r2,
        "residual_sd": float(np.sqrt(resid @ resid / (n - x.shape[1]))),
        "smearing": smear,
        "n": n,
    }
    return value, info
