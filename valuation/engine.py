"""`value_asset`: every approach, the simulation, the reconciliation and the quote in one call."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd

from valuation.asset import AssetProfile
from valuation.conventions import Compounding, DayCount, parse_currency, parse_date
from valuation.cost import CostValuer
from valuation.errors import ConventionError, InsufficientDataError, NoMethodError
from valuation.income import IncomePlan, IncomeValuer
from valuation.market import MarketData
from valuation.market_approach import MarketValuer
from valuation.montecarlo import MAX_PATHS, MonteCarloResult, simulate_plan
from valuation.quote import QUOTE_PARAMETERS, make_quote
from valuation.reconcile import AssetValuation, reconcile_weights, reconciled_distribution
from valuation.results import MethodResult, ValuationInputs
from valuation.signals import clean_signals

MODEL_VERSION = "datafin-valuation 1.0.0"

INCOME_KEYS = tuple(IncomeValuer.params_schema)
COST_KEYS = {  # assumption name -> CostValuer parameter
    "profit_margin": "profit_margin",
    "cost_tax_rate": "tax_rate",
    "cost_inflation_rate": "cost_inflation_rate",
    "obsolescence": "obsolescence",
    "half_life_months": "half_life_months",
    "quality_weights": "quality_weights",
}
MARKET_KEYS = {
    "size_elasticity": "size_elasticity",
    "market_growth_rate": "market_growth_rate",
    "lookback_months": "lookback_months",
    "evidence_half_life_months": "evidence_half_life_months",
    "hedonic": "hedonic",
    "quality_weights": "quality_weights",
}
SIMULATION_KEYS = (
    "antithetic",
    "jump_share",
    "jump_loss",
    "extra_hazard_per_month",
    "volatility_multiplier",
)
ASSUMPTION_KEYS = tuple(
    dict.fromkeys((*INCOME_KEYS, *COST_KEYS, *MARKET_KEYS, *SIMULATION_KEYS, *QUOTE_PARAMETERS))
)
# Which input each approach lacks when it cannot run.
METHOD_INPUT = {"income": "signals", "cost": "costs", "market": "comparables"}


def _check_int(value: object, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not (lo <= value <= hi):
        raise ConventionError(
            f"The `{name}` must be an integer in {lo:,}..{hi:,}. Got {value!r}.", field=name
        )
    return int(value)


def value_asset(
    signals: pd.DataFrame | None,
    costs: pd.DataFrame | None,
    comparables: pd.DataFrame | None,
    asset: AssetProfile | Mapping[str, Any],
    as_of: date | str,
    market: MarketData | None,
    paths: int = 10_000,
    seed: int = 0,
    *,
    currency: str | None = None,
    weights: Mapping[str, float] | None = None,
    assumptions: Mapping[str, Any] | None = None,
) -> AssetValuation:
    """Value a data asset by the income, cost and market approaches, simulate, reconcile, quote.

    Parameters
    ----------
    signals : pandas.DataFrame or None
        ``month`` (month start), ``metric``, ``value``: revenue in major units of the
        valuation currency, usage in counts.
    costs : pandas.DataFrame or None
        ``category``, ``amount``, ``currency``, ``incurred_on``, ``recurring_months``.
    comparables : pandas.DataFrame or None
        ``category``, ``price``, ``currency``, ``traded_on``, ``records``,
        ``quality_score``, ``rights_scope``.
    asset : AssetProfile or mapping
        The asset (a mapping is read with `AssetProfile.from_mapping`).
    as_of : date or ISO string
        Valuation date.
    market : MarketData
        Discount curve (its currency is the default valuation currency); a curve built
        at an earlier date is read forward from ``as_of``.
    paths : int
        Monte Carlo paths, 1..1,000,000.
    seed : int
        Seed of the Monte Carlo generator, >= 0 (recorded).
    currency : str, optional
        Valuation currency; default ``market.currency``.
    weights : mapping, optional
        Reconciliation weights by approach (``income``, ``cost``, ``market``).
    assumptions : mapping, optional
        Income assumptions of API.md (``income_form``, ``revenue_share``, ``tax_rate``,
        ``cost_ratio``, ``economic_life_months``, ``half_life_months``, ``discount_rate``,
        ``risk_premium``, ``timing``, ...), cost (``profit_margin``, ``cost_tax_rate``,
        ``cost_inflation_rate``, ``obsolescence``, ``quality_weights``), market
        (``size_elasticity``, ``market_growth_rate``, ``lookback_months``,
        ``evidence_half_life_months``, ``hedonic``), simulation (``jump_share``,
        ``jump_loss``, ``extra_hazard_per_month``, ``volatility_multiplier``,
        ``antithetic``) and quote parameters (``liquidation_horizon_months``,
        ``liquidation_cost``, ``lending_quantile``, ``haircut_floor``, ``validity_days``).

    Returns
    -------
    AssetValuation
        ``methods["income"].value`` is the deterministic income-approach value; the
        Monte Carlo distribution is in ``distribution`` and ``simulation``.

    Raises
    ------
    ConventionError
        Bad input: the message and ``field`` name the input and the rule.
    NoMethodError
        No approach can run; ``reasons`` says what each lacks.
    """
    as_of_d = parse_date(as_of, field="as_of")
    given_early = dict(assumptions or {})
    if market is None and given_early.get("discount_rate") is not None:
        # a flat discount rate replaces the curve: any curve in the valuation currency will do
        market = MarketData.flat_rate(
            as_of_d, 0.0, currency=parse_currency(currency or "CNY"),
            day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL,
        )
    if not isinstance(market, MarketData):
        raise ConventionError(
            f"The `market` must be a `MarketData` (or give `assumptions.discount_rate`). "
            f"Got {type(market).__name__}.",
            field="market",
        )
    ccy = parse_currency(market.currency if currency is None else currency)
    paths = _check_int(paths, "paths", 1, MAX_PATHS)
    seed = _check_int(seed, "seed", 0, 2**63 - 1)
    given = dict(assumptions or {})
    for key in given:
        if key not in ASSUMPTION_KEYS:
            raise ConventionError(
                f"The `assumptions.{key}` is not a known assumption. Known: {', '.join(ASSUMPTION_KEYS)}.",
                field=f"assumptions.{key}",
            )
    if ccy != market.currency and given.get("discount_rate") is None:
        raise ConventionError(
            f"The `currency` ({ccy}) must be the market curve's currency ({market.currency}) "
            "unless a `discount_rate` is given.",
            field="currency",
        )
    if market.as_of > as_of_d:
        raise ConventionError(
            f"The `market.as_of` ({market.as_of}) must not be after the valuation date `as_of` "
            f"({as_of_d}).",
            field="as_of",
        )
    if isinstance(asset, Mapping):
        asset = AssetProfile.from_mapping(asset)
    inputs = ValuationInputs(signals, costs, comparables, asset, ccy)
    income = IncomeValuer(**{k: given[k] for k in INCOME_KEYS if k in given})
    cost = CostValuer(**{v: given[k] for k, v in COST_KEYS.items() if k in given})
    market_valuer = MarketValuer(**{v: given[k] for k, v in MARKET_KEYS.items() if k in given})

    methods: dict[str, MethodResult] = {}
    unavailable: dict[str, str] = {}
    plan: IncomePlan | None = None
    try:
        plan = income.plan(inputs, as_of=as_of_d, market=market)
        methods["income"] = income.value(inputs, as_of=as_of_d, market=market)
    except InsufficientDataError as exc:
        unavailable["income"] = str(exc)
    for name, valuer in (("cost", cost), ("market", market_valuer)):
        try:
            methods[name] = valuer.value(inputs, as_of=as_of_d, market=market)
        except InsufficientDataError as exc:
            unavailable[name] = str(exc)
    if not methods:
        reasons = "; ".join(f"{m}: {r}" for m, r in unavailable.items())
        raise NoMethodError(
            f"No valuation approach can run for asset {asset.id!r}. {reasons}",
            reasons=unavailable,
            fields={m: METHOD_INPUT[m] for m in unavailable},
        )
    simulation: MonteCarloResult | None = None
    if plan is not None:
        sim_kw = {k: given[k] for k in SIMULATION_KEYS if k in given}
        for k in ("jump_share", "jump_loss", "extra_hazard_per_month", "volatility_multiplier"):
            if k in sim_kw:
                v = sim_kw[k]
                hi = 100.0 if k == "volatility_multiplier" else 1.0
                if isinstance(v, bool) or not isinstance(v, int | float) or not (0.0 <= v <= hi) or (
                    k in ("jump_share", "jump_loss") and v >= 1.0
                ):
                    raise ConventionError(
                        f"The `assumptions.{k}` must be a number in [0, {hi:g}"
                        f"{')' if k in ('jump_share', 'jump_loss') else ']'}. Got {v!r}.",
                        field=f"assumptions.{k}",
                    )
        if "antithetic" in sim_kw and not isinstance(sim_kw["antithetic"], bool):
            raise ConventionError(
                f"The `assumptions.antithetic` must be true or false. Got {sim_kw['antithetic']!r}.",
                field="assumptions.antithetic",
            )
        simulation = simulate_plan(plan, n_paths=paths, seed=seed, **sim_kw)
        income_result = methods["income"]
        methods["income"] = MethodResult(
            "income",
            income_result.value,
            income_result.currency,
            income_result.as_of,
            income_result.assumptions,
            {
                **income_result.diagnostics,
                "monte_carlo": {
                    "mean": float(simulation.values.mean()),
                    "std_error": simulation.std_error,
                    **dict(simulation.parameters),
                },
            },
        )
    w = reconcile_weights(methods, weights)
    value = float(sum(w[m] * methods[m].value for m in methods))
    distribution = reconciled_distribution(methods, w, simulation)
    quote = make_quote(
        value,
        distribution,
        simulation,
        as_of=as_of_d,
        currency=ccy,
        params={k: given[k] for k in QUOTE_PARAMETERS if k in given},
    )
    notes = clean_signals(inputs.signals, as_of=as_of_d, currency=ccy).notes
    return AssetValuation(
        asset_id=asset.id,
        as_of=as_of_d,
        currency=ccy,
        value=value,
        distribution=distribution,
        methods=methods,
        unavailable=unavailable,
        weights=w,
        quote=quote,
        simulation=simulation,
        seed=seed,
        paths=paths,
        model_version=MODEL_VERSION,
        assumptions=given,
        notes=notes,
    )
