"""Each approach's own uncertainty, and the reconciled value as their weighted mixture.

IVS 105 (valuation approaches) and the China Appraisal Society's *Guidance on Data
Asset Appraisal* (2023) ask the appraiser to weigh the approaches and to state the
uncertainty of the conclusion. Here every approach that ran gives a sample of values
that expresses its own uncertainty, and the reconciled distribution is the mixture of
those samples with the reconciliation weights (a value is drawn from approach ``m``
with probability ``w_m``). Its mean is the reconciled value; its p05-p95 range covers
both each approach's spread and their disagreement.

Per approach (``n`` samples each, mean equal to the approach's point value ``V_m``):

- **income**: the Monte Carlo path values (revenue volatility, obsolescence jumps and
  the fitted trend's parameter uncertainty, `valuation.montecarlo.simulate_plan`).
- **cost**: ``V_c exp(s Z - s^2/2) x O(H') / O(H)``, where ``s`` is the
  uncertainty of the replacement cost, ``s^2 = 0.10^2 + (0.02 a)^2`` (a 10 %
  estimation error of reproduction cost plus 2 % per year of mean age ``a`` restated
  by the cost index), and the half-life of obsolescence is lognormal around its value,
  ``H' = H exp(0.42 Z')`` (so x0.5 and x2 are its 5 % and 95 % points); ``O`` is the
  remaining-value factor ``0.5 ** (age / H)``. A given ``obsolescence`` is kept fixed.
- **market**: ``V_m exp(s_p Z - s_p^2/2)`` with ``s_p`` the prediction deviation of
  the adjusted comparables: the hedonic regression's residual deviation, or the
  deviation of the log adjusted prices, times ``sqrt(1 + 1/n)``; with fewer than 3
  comparables ``s_p`` is at least 0.5 (a documented default).

Value at the end of a liquidation horizon ``h`` months, discounted to today (what a
buyer would then pay for what is still to come): the income paths' own
``remaining_value(h)``; for cost and market, the sample times the share of the
expected income still to come after ``h`` (``sum_{k>h} c_k DF_k / sum_k c_k DF_k``
of the income plan) or, without an income plan, ``0.5 ** (h / H) DF(h)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from valuation._typing import FloatArray
from valuation.haircut import haircut_from_quantile
from valuation.montecarlo import Distribution, MonteCarloResult, weighted_quantile
from valuation.paths import simulate_values_batch
from valuation.results import MethodResult

#: Estimation error of a reproduction cost (log deviation), and its growth per year of age.
COST_BASE_SD = 0.10
COST_SD_PER_YEAR = 0.02
#: Log deviation of the obsolescence half-life: x0.5 and x2 are its 5 % and 95 % points.
HALF_LIFE_LOG_SD = math.log(2.0) / 1.6448536269514722
#: Least prediction deviation of a market value resting on fewer than 3 comparables.
MARKET_MIN_SD_FEW = 0.5
MARKET_FEW = 3


def _lognormal(value: float, sd: float, z: FloatArray) -> FloatArray:
    return value * np.exp(sd * z - 0.5 * sd * sd)


def cost_samples(result: MethodResult, n: int, rng: np.random.Generator) -> FloatArray:
    """Values of the cost approach, shape (n,), mean about ``result.value`` (module Notes)."""
    a = result.assumptions
    d = result.diagnostics
    age_years = float(d.get("mean_age_months", 0.0)) / 12.0
    sd = math.sqrt(COST_BASE_SD**2 + (COST_SD_PER_YEAR * age_years) ** 2)
    z = rng.standard_normal((2, n))
    out = _lognormal(result.value, sd, z[0])
    half_life = a.get("half_life_months")
    if a.get("obsolescence_source") != "given" and half_life and age_years > 0:
        hl = float(half_life)
        hl_path = hl * np.exp(HALF_LIFE_LOG_SD * z[1])
        age = age_years * 12.0
        factor = np.exp2(-age / hl_path) / 2.0 ** (-age / hl)
        out = out * factor / float(factor.mean())  # keep the mean at the point value
    return out


def market_deviation(result: MethodResult) -> float:
    """Prediction deviation (log) of the market approach's value."""
    d = result.diagnostics
    hed = d.get("hedonic")
    if isinstance(hed, Mapping) and hed.get("residual_sd") is not None:
        n = int(hed.get("n", d.get("comparables_used", 1)))
        sd = float(hed["residual_sd"]) * math.sqrt(1.0 + 1.0 / max(n, 1))
    else:
        prices = np.asarray(d.get("adjusted_prices", []), dtype=np.float64)
        prices = prices[prices > 0]
        n = prices.size
        sd = float(np.log(prices).std(ddof=1)) * math.sqrt(1.0 + 1.0 / n) if n >= 2 else 0.0
    if n < MARKET_FEW:
        sd = max(sd, MARKET_MIN_SD_FEW)
    return sd


def market_samples(result: MethodResult, n: int, rng: np.random.Generator) -> FloatArray:
    """Values of the market approach, shape (n,), mean about ``result.value``."""
    return _lognormal(result.value, market_deviation(result), rng.standard_normal(n))


def remaining_share(
    horizon_months: int,
    *,
    expected_cash_flows: FloatArray | None,
    discount_factors: FloatArray | None,
    half_life_months: float,
    discount_factor_at_horizon: float,
) -> float:
    """Share of today's value still to come after ``h`` months, discounted to today."""
    h = int(horizon_months)
    if h <= 0:
        return 1.0
    if (
        expected_cash_flows is not None
        and discount_factors is not None
        and expected_cash_flows.size
    ):
        pv = expected_cash_flows * discount_factors
        total = float(pv.sum())
        if total > 0:
            return float(pv[h:].sum() / total)
    return float(0.5 ** (h / half_life_months) * discount_factor_at_horizon)


@dataclass(frozen=True, slots=True, eq=False)
class Mixture:
    """Weighted samples of the approaches' values (and of their values at a horizon).

    Attributes
    ----------
    samples : mapping of str to FloatArray
        Each approach's values today, shape (n_m,).
    weights : mapping of str to float
        Reconciliation weights (sum to one).
    horizon_samples : mapping of str to FloatArray
        Each approach's values at the end of the liquidation horizon, discounted to
        today, path by path with ``samples``.
    horizon_months : int
    """

    samples: Mapping[str, FloatArray]
    weights: Mapping[str, float]
    horizon_samples: Mapping[str, FloatArray]
    horizon_months: int

    def _flat(self, which: Mapping[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
        names = [m for m in which if self.weights.get(m, 0.0) > 0 and which[m].size]
        values = np.concatenate([which[m] for m in names])
        weights = np.concatenate(
            [np.full(which[m].size, self.weights[m] / which[m].size) for m in names]
        )
        return values, weights

    def distribution(self) -> Distribution:
        """Distribution of the reconciled value today."""
        return Distribution.of_weighted(*self._flat(self.samples))

    def horizon_quantile(self, q: float) -> float:
        """Return the ``q`` quantile of the mixture's horizon values (discounted to today)."""
        values, weights = self._flat(self.horizon_samples)
        return float(weighted_quantile(values, weights, q)[0])

    def method_distribution(self, method: str) -> Distribution:
        """Return the distribution of one method's samples."""
        return Distribution.of(self.samples[method])

    def histogram(self, bins: int = 40) -> dict[str, list[float]]:
        """Weighted histogram of the reconciled value today: ``edges`` and ``density``."""
        values, weights = self._flat(self.samples)
        lo, hi = np.quantile(values, [0.001, 0.999])
        if not hi > lo:
            hi = lo + max(abs(lo), 1.0) * 1e-6
        # the tails beyond the 0.1 % quantiles are counted in the end bins, so the densities
        # integrate to one however few the samples (two samples once left the range empty)
        density, edges = np.histogram(
            np.clip(values, lo, hi), bins=bins, range=(lo, hi), weights=weights, density=True
        )
        return {"edges": [float(x) for x in edges], "density": [float(x) for x in density]}


def build_mixture(
    methods: Mapping[str, MethodResult],
    weights: Mapping[str, float],
    simulation: MonteCarloResult | None,
    *,
    n: int,
    seed: int,
    horizon_months: int,
    half_life_months: float,
    expected_cash_flows: FloatArray | None,
    discount_factors: FloatArray | None,
    discount_factor_at_horizon: float,
) -> Mixture:
    """Draw each approach's samples and their horizon values (see the module Notes).

    Cost and market samples come from generators seeded with ``(seed, 2)`` and
    ``(seed, 3)``: the same inputs and seed give the same mixture.
    """
    samples: dict[str, FloatArray] = {}
    horizon: dict[str, FloatArray] = {}
    share = remaining_share(
        horizon_months,
        expected_cash_flows=expected_cash_flows,
        discount_factors=discount_factors,
        half_life_months=half_life_months,
        discount_factor_at_horizon=discount_factor_at_horizon,
    )
    for name, result in methods.items():
        if name == "income" and simulation is not None:
            samples[name] = np.asarray(simulation.values)
            horizon[name] = np.asarray(simulation.remaining_value(horizon_months))
        elif name == "income":
            samples[name] = np.full(n, result.value)
            horizon[name] = samples[name] * share
        elif name == "cost":
            samples[name] = cost_samples(result, n, np.random.default_rng([seed, 2]))
            hl = float(result.assumptions.get("half_life_months") or half_life_months)
            cost_share = 0.5 ** (horizon_months / hl) * discount_factor_at_horizon
            infl = float(result.assumptions.get("cost_inflation_rate", 0.0))
            cost_share *= (1.0 + infl) ** (horizon_months / 12.0)
            horizon[name] = samples[name] * min(cost_share, 1.0)
        else:
            samples[name] = market_samples(result, n, np.random.default_rng([seed, 3]))
            horizon[name] = samples[name] * share
    return Mixture(samples, dict(weights), horizon, int(horizon_months))


#: Summary columns of `summarise_batch`.
BATCH_COLUMNS = (
    "value",
    "mean",
    "p05",
    "p50",
    "p95",
    "horizon_quantile",
    "haircut",
    "lending_value",
)


def _row_weighted_quantiles(values: FloatArray, weights: FloatArray, qs: FloatArray) -> FloatArray:
    """`weighted_quantile` row by row: values and weights (rows, n) -> (rows, len(qs))."""
    order = np.argsort(values, axis=1, kind="stable")
    v = np.take_along_axis(values, order, axis=1)
    w = np.take_along_axis(weights, order, axis=1)
    below = np.cumsum(w, axis=1) - w
    below /= below[:, -1:]
    return np.stack([np.interp(qs, below[i], v[i]) for i in range(v.shape[0])])


def summarise_batch(
    expected: FloatArray,
    sigma: FloatArray,
    discount_factors: FloatArray,
    n_paths: int,
    rng: np.random.Generator,
    *,
    weights: FloatArray,
    other_values: FloatArray,
    other_sds: FloatArray,
    jump_hazard: FloatArray | None = None,
    jump_loss: float = 0.0,
    horizon_months: int = 6,
    lending_quantile: float = 0.05,
    liquidation_cost: float = 0.10,
    haircut_floor: float = 0.30,
    chunk_assets: int = 50,
) -> FloatArray:
    """Mixture summaries and haircuts of many assets, chunk by chunk (bounded memory).

    The batch form of `build_mixture` + `valuation.haircut` for books of assets: per
    asset, the income paths (`valuation.paths.simulate_values_batch`) and lognormal
    draws for the other approaches (mean-preserving, deviation ``other_sds``), mixed with
    ``weights``; cost and market values at the horizon take the income plan's remaining
    share. Only the summaries are kept, so memory does not grow with the number of
    assets.

    Parameters
    ----------
    expected, sigma, discount_factors, jump_hazard, jump_loss
        As `simulate_values_batch` (shapes (A, M), (A,), (A, M) or (M,), (A,)).
    weights : FloatArray, shape (A, 3)
        Weights of income, cost and market per asset (rows sum to one).
    other_values, other_sds : FloatArray, shape (A, 2)
        Cost and market point values and log deviations.

    Returns
    -------
    FloatArray, shape (A, 8)
        Columns `BATCH_COLUMNS`: value (weighted point value, the income point being the
        paths' mean), mixture mean, p05, p50, p95, the lending quantile of the horizon
        values, haircut and lending value.
    """
    expected = np.asarray(expected, dtype=np.float64)
    n_assets, months = expected.shape
    dfs = np.broadcast_to(np.asarray(discount_factors, dtype=np.float64), (n_assets, months))
    h = int(horizon_months)
    pv = expected * dfs
    total = pv.sum(axis=1)
    share = np.where(total > 0, pv[:, h:].sum(axis=1) / np.where(total > 0, total, 1.0), 0.0)
    qs = np.array([0.05, 0.5, 0.95])
    out = np.empty((n_assets, len(BATCH_COLUMNS)))
    for a0 in range(0, n_assets, chunk_assets):
        a1 = min(a0 + chunk_assets, n_assets)
        c = a1 - a0
        inc, inc_h = simulate_values_batch(
            expected[a0:a1],
            np.asarray(sigma)[a0:a1],
            dfs[a0:a1],
            n_paths,
            rng,
            jump_hazard=None if jump_hazard is None else np.asarray(jump_hazard)[a0:a1],
            jump_loss=jump_loss,
            horizon_months=h,
        )
        sd = np.asarray(other_sds, dtype=np.float64)[a0:a1]
        z = rng.standard_normal((c, 2, n_paths))
        others = np.asarray(other_values, dtype=np.float64)[a0:a1, :, None] * np.exp(
            sd[:, :, None] * z - 0.5 * sd[:, :, None] ** 2
        )
        values = np.concatenate([inc, others[:, 0], others[:, 1]], axis=1)
        horizon = np.concatenate(
            [inc_h, others[:, 0] * share[a0:a1, None], others[:, 1] * share[a0:a1, None]], axis=1
        )
        w = np.repeat(np.asarray(weights, dtype=np.float64)[a0:a1] / n_paths, n_paths, axis=1)
        point = w[:, :n_paths].sum(axis=1) * inc.mean(axis=1) + (
            np.asarray(weights)[a0:a1, 1:] * np.asarray(other_values)[a0:a1]
        ).sum(axis=1)
        quant = _row_weighted_quantiles(values, w, qs)
        q_h = _row_weighted_quantiles(horizon, w, np.array([lending_quantile]))[:, 0]
        cut = haircut_from_quantile(
            point, q_h, liquidation_cost=liquidation_cost, floor=haircut_floor
        )
        out[a0:a1] = np.column_stack(
            [point, (w * values).sum(axis=1) / w.sum(axis=1), quant, q_h, cut, point * (1.0 - cut)]
        )
    return out
