"""`value_asset`: every approach, the simulation, the reconciliation and the quote in one call."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import numbers
from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd

from valuation.asset import AssetProfile
from valuation.conventions import (
    Compounding,
    DayCount,
    add_months,
    month_index,
    parse_currency,
    parse_date,
)
from valuation.cost import CostValuer
from valuation.errors import ConventionError, InsufficientDataError, NoMethodError
from valuation.forecast import default_half_life_months
from valuation.income import MAX_LIFE_MONTHS, IncomePlan, IncomeValuer
from valuation.market import MarketData
from valuation.market_approach import MarketValuer
from valuation.mixture import MARKET_FEW, MARKET_MIN_SD_FEW, build_mixture, market_deviation
from valuation.montecarlo import MAX_PATHS, Distribution, MonteCarloResult, simulate_plan
from valuation.quote import QUOTE_PARAMETERS, make_quote, quote_parameters
from valuation.reconcile import AssetValuation, reconcile
from valuation.results import (
    COMPARABLE_COLUMNS,
    COST_COLUMNS,
    SIGNAL_COLUMNS,
    MethodResult,
    ValuationInputs,
    empty_frame,
)
from valuation.signals import clean_signals

#: Bumped whenever the same inputs give different figures (a test pins figures to it).
#: 2.0.0: each approach's own uncertainty and their mixture; one haircut on the mixture
#: at the liquidation horizon; reconciliation by evidence when approaches disagree;
#: the fitted trend's parameter uncertainty in the income paths. 2.1.0: guarded inputs
#: (trailing months never outliers, level shifts, zero months as data, the cost ratio
#: from the trailing year's run-rate of recurring costs). 2.2.0: appraiser defaults (post-tax
#: cash flows at 25 % tax, excess earnings with contributory charges, a 60-month life cap,
#: relief from royalty), rights (term caps life, product operation gates third-party
#: revenue, one rights scale for the market approach), revenue multiples, Hampel filter.
MODEL_VERSION = "datafin-valuation 2.2.0"

EARLIEST_AS_OF = date(1901, 1, 1)
LATEST_AS_OF = date(2199 - MAX_LIFE_MONTHS // 12, 12, 31)
"""Valuation dates accepted: QuantLib's dates run from 1901-01-01 to 2199-12-31, and the
cash flows of the longest economic life (`MAX_LIFE_MONTHS`) must end inside that range."""
#: Libraries whose versions each valuation records.
RECORDED_LIBRARIES = ("numpy", "scipy", "pandas", "QuantLib")


def model_record() -> dict[str, Any]:
    """``{"version": MODEL_VERSION, "libraries": {name: version}}`` (API: ``model``)."""
    libs: dict[str, str] = {}
    for name in RECORDED_LIBRARIES:
        try:
            libs[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - all are dependencies
            libs[name] = "not installed"
    return {"version": MODEL_VERSION, "libraries": libs}


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
    "parameter_uncertainty",
)
ASSUMPTION_KEYS = tuple(
    dict.fromkeys((*INCOME_KEYS, *COST_KEYS, *MARKET_KEYS, *SIMULATION_KEYS, *QUOTE_PARAMETERS))
)
# Which input each approach lacks when it cannot run.
METHOD_INPUT = {"income": "signals", "cost": "costs", "market": "comparables"}


def _check_int(value: object, name: str, lo: int, hi: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not (lo <= int(value) <= hi)
    ):
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
        Income assumptions of the API contract (``income_form``, ``revenue_share``, ``tax_rate``,
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
    if not EARLIEST_AS_OF <= as_of_d <= LATEST_AS_OF:
        raise ConventionError(
            f"The `as_of` must be between {EARLIEST_AS_OF} and {LATEST_AS_OF}. Got {as_of_d}.",
            field="as_of",
        )
    given_early = dict(assumptions or {})
    if market is None and given_early.get("discount_rate") is not None:
        # a flat discount rate replaces the curve: any curve in the valuation currency will do
        market = MarketData.flat_rate(
            as_of_d,
            0.0,
            currency=parse_currency(currency or "CNY"),
            day_count=DayCount.ACT_365F,
            compounding=Compounding.ANNUAL,
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
    inputs = ValuationInputs(
        empty_frame(SIGNAL_COLUMNS) if signals is None else signals,
        empty_frame(COST_COLUMNS) if costs is None else costs,
        empty_frame(COMPARABLE_COLUMNS) if comparables is None else comparables,
        asset,
        ccy,
    )
    income = IncomeValuer(**{k: given[k] for k in INCOME_KEYS if k in given})
    cost = CostValuer(**{v: given[k] for k, v in COST_KEYS.items() if k in given})
    market_valuer = MarketValuer(**{v: given[k] for k, v in MARKET_KEYS.items() if k in given})

    methods: dict[str, MethodResult] = {}
    unavailable: dict[str, str] = {}
    plan: IncomePlan | None = None
    clean = clean_signals(inputs.signals, as_of=as_of_d, currency=ccy)  # once per valuation
    try:
        plan = income.plan(inputs, as_of=as_of_d, market=market, clean=clean)
        methods["income"] = income.value_plan(plan, inputs, as_of=as_of_d)
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
                if (
                    isinstance(v, bool)
                    or not isinstance(v, int | float)
                    or not (0.0 <= v <= hi)
                    or (k in ("jump_share", "jump_loss") and v >= 1.0)
                ):
                    raise ConventionError(
                        f"The `assumptions.{k}` must be a number in [0, {hi:g}"
                        f"{')' if k in ('jump_share', 'jump_loss') else ']'}. Got {v!r}.",
                        field=f"assumptions.{k}",
                    )
        for k in ("antithetic", "parameter_uncertainty"):
            if k in sim_kw and not isinstance(sim_kw[k], bool):
                raise ConventionError(
                    f"The `assumptions.{k}` must be true or false. Got {sim_kw[k]!r}.",
                    field=f"assumptions.{k}",
                )
        simulation = simulate_plan(plan, n_paths=paths, seed=seed, **sim_kw)
        income_result = methods["income"]
        methods["income"] = dataclasses.replace(
            income_result,
            diagnostics={
                **income_result.diagnostics,
                "monte_carlo": {
                    "mean": float(simulation.values.mean()),
                    "std_error": simulation.std_error,
                    **dict(simulation.parameters),
                },
            },
        )
    qp = quote_parameters({k: given[k] for k in QUOTE_PARAMETERS if k in given})
    horizon = qp["liquidation_horizon_months"]
    half_life = (
        plan.half_life_months
        if plan is not None
        else float(given.get("half_life_months") or default_half_life_months(asset))
    )
    if horizon == 0:
        df_h = 1.0
    elif plan is not None:
        df_h = float(plan.discount_factors[min(horizon, plan.months) - 1])
    else:
        df_h = float(market.discount_factors([add_months(as_of_d, horizon)], from_date=as_of_d)[0])
    draft = build_mixture(
        methods,
        dict.fromkeys(methods, 1.0),
        simulation,
        n=paths,
        seed=seed,
        horizon_months=horizon,
        half_life_months=half_life,
        expected_cash_flows=None if plan is None else plan.cash_flows,
        discount_factors=None if plan is None else plan.discount_factors,
        discount_factor_at_horizon=df_h,
    )
    own = {m: Distribution.of(draft.samples[m]) for m in methods}
    cv = {m: (d.std / d.mean if d.mean > 0 else 0.0) for m, d in own.items()}
    rec = reconcile(methods, cv, weights)
    w = dict(rec.weights)
    mixture = dataclasses.replace(draft, weights=w)
    methods = {m: dataclasses.replace(r, distribution=own[m].as_dict()) for m, r in methods.items()}
    value = float(sum(w[m] * methods[m].value for m in methods))
    distribution = mixture.distribution()
    quote = make_quote(
        value,
        distribution,
        mixture,
        as_of=as_of_d,
        currency=ccy,
        params={k: given[k] for k in QUOTE_PARAMETERS if k in given},
    )
    notes = clean.notes
    warnings = _signal_warnings(clean, as_of_d) + _collect_warnings(methods, rec)
    sensitivities = _sensitivities(
        methods, w, given, inputs, as_of=as_of_d, market=market, base=value
    )
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
        warnings=warnings,
        reconciliation=rec,
        sensitivities=sensitivities,
        model=model_record(),
        mixture=mixture,
    )


#: Months after which the latest signal is stale, and the history an income forecast needs.
STALE_SIGNAL_MONTHS = 6
SHORT_HISTORY_MONTHS = 12


def _signal_warnings(clean: Any, as_of: date) -> tuple[dict[str, str], ...]:
    """Return the ``stale_signals`` and ``short_history`` warnings of the signals.

    ``stale_signals`` (the latest month ends more than 6 months before as_of) and ``short_history``
    (fewer than 12 months of revenue and of every usage metric).
    """
    series = [s for s in (clean.revenue, *clean.usage.values()) if s is not None]
    out: list[dict[str, str]] = []
    if not series:
        return ({"code": "short_history", "message": "No revenue or usage signal before as_of."},)
    last = max(s.last_month for s in series)
    end = add_months(last, 1)  # the day after the latest month
    if add_months(end, STALE_SIGNAL_MONTHS) < as_of:
        gap = month_index(as_of) - month_index(end)
        out.append(
            {
                "code": "stale_signals",
                "message": f"The latest signal is for {last:%Y-%m}, {gap} months before as_of "
                f"({as_of}); the forecast extrapolates over the gap.",
            }
        )
    longest = max(s.n_observed for s in series)
    if longest < SHORT_HISTORY_MONTHS:
        out.append(
            {
                "code": "short_history",
                "message": f"{longest} month(s) of signals (an income forecast needs "
                f"{SHORT_HISTORY_MONTHS}).",
            }
        )
    return tuple(out)


def _collect_warnings(methods: Mapping[str, MethodResult], rec: Any) -> tuple[dict[str, str], ...]:
    """Each approach's warnings (``diagnostics["warnings"]``), then the reconciliation's."""
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for r in methods.values():
        for item in r.diagnostics.get("warnings", ()) or ():
            key = (str(item["code"]), str(item["message"]))
            if key not in seen:
                seen.add(key)
                out.append({"code": key[0], "message": key[1]})
    if (
        "market" in methods
        and market_deviation(methods["market"]) >= MARKET_MIN_SD_FEW
        and int(methods["market"].diagnostics.get("comparables_used", 0)) < MARKET_FEW
    ):
        out.append(
            {
                "code": "default_assumption",
                "message": f"market uncertainty: fewer than {MARKET_FEW} comparables, so the "
                f"market value's log deviation is at least the default "
                f"{MARKET_MIN_SD_FEW}.",
            }
        )
    if rec.disagree:
        ratio = rec.disagreement_ratio
        values = ", ".join(f"{m} {r.value:,.0f}" for m, r in methods.items())
        size = "one approach gives zero" if ratio == float("inf") else f"a factor of {ratio:.2f}"
        out.append(
            {
                "code": "approaches_disagree",
                "message": f"The approaches differ by {size} ({values}); see reconciliation.rationale "
                "for the weights.",
            }
        )
    return tuple(out)


def _sensitivities(
    methods: Mapping[str, MethodResult],
    weights: Mapping[str, float],
    given: Mapping[str, Any],
    inputs: ValuationInputs,
    *,
    as_of: date,
    market: MarketData,
    base: float,
) -> tuple[dict[str, Any], ...]:
    """Return the reconciled value (weights fixed) under one changed assumption at a time.

    Discount rate +/-1 pp (the given ``discount_rate``, else the risk premium over the
    curve), revenue +/-20 % (every revenue signal scaled), obsolescence half-life x0.5
    and x2, economic life +/-12 months. Approaches an assumption does not touch keep
    their value; an approach the shifted inputs cannot run keeps its base value.
    """
    income_a = methods["income"].assumptions if "income" in methods else {}
    cost_a = methods["cost"].assumptions if "cost" in methods else {}

    def point(changes: Mapping[str, Any], signals: pd.DataFrame | None = None) -> float:
        trial = {**given, **changes}
        trial_inputs = inputs if signals is None else dataclasses.replace(inputs, signals=signals)
        total = 0.0
        for m, r in methods.items():
            valuer: IncomeValuer | CostValuer | MarketValuer
            if m == "income":
                valuer = IncomeValuer(**{k: trial[k] for k in INCOME_KEYS if k in trial})
            elif m == "cost":
                valuer = CostValuer(**{v: trial[k] for k, v in COST_KEYS.items() if k in trial})
            else:
                valuer = MarketValuer(**{v: trial[k] for k, v in MARKET_KEYS.items() if k in trial})
            try:
                v = valuer.value(trial_inputs, as_of=as_of, market=market).value
            except (InsufficientDataError, ConventionError):
                v = r.value
            total += weights[m] * v
        return float(total)

    rows: list[dict[str, Any]] = []

    def add(
        name: str, shift: str, changes: Mapping[str, Any], signals: pd.DataFrame | None = None
    ) -> None:
        v = point(changes, signals)
        rows.append(
            {
                "name": name,
                "shift": shift,
                "value": v,
                "change": (v / base - 1.0) if base > 0 else None,
            }
        )

    if "income" in methods:
        if given.get("discount_rate") is not None:
            dr = float(given["discount_rate"])
            add("discount_rate", "+1pp", {"discount_rate": dr + 0.01})
            add("discount_rate", "-1pp", {"discount_rate": max(dr - 0.01, -0.99)})
        elif income_a.get("risk_premium") is not None:
            rp = float(income_a["risk_premium"])
            add("discount_rate", "+1pp", {"risk_premium": min(rp + 0.01, 0.99)})
            add("discount_rate", "-1pp", {"risk_premium": max(rp - 0.01, -0.99)})
    sig = inputs.signals
    if not sig.empty and (sig["metric"] == "revenue").any():
        for f, label in ((1.2, "+20%"), (0.8, "-20%")):
            scaled = sig.copy()
            rev = scaled["metric"] == "revenue"
            scaled.loc[rev, "value"] = scaled.loc[rev, "value"].astype(float) * f
            add("revenue", label, {}, scaled)
    hl = income_a.get("half_life_months") or cost_a.get("half_life_months")
    if hl and ("income" in methods or "cost" in methods):
        add("half_life_months", "x0.5", {"half_life_months": float(hl) * 0.5})
        add("half_life_months", "x2", {"half_life_months": float(hl) * 2.0})
    life = income_a.get("economic_life_months")
    if life:
        add(
            "economic_life_months",
            "+12m",
            {"economic_life_months": min(int(life) + 12, MAX_LIFE_MONTHS)},
        )
        add("economic_life_months", "-12m", {"economic_life_months": max(int(life) - 12, 1)})
    return tuple(rows)
