"""Cost and market approaches, reconciliation, quote, and value_asset's handling of missing data."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from valuation import CostValuer, MarketValuer, value_asset
from valuation.conventions import Compounding, DayCount, year_fraction
from valuation.errors import ConventionError, InsufficientDataError, NoMethodError
from valuation.market_approach import scope_score
from valuation.mixture import Mixture
from valuation.montecarlo import Distribution
from valuation.quote import make_quote
from valuation.reconcile import reconcile_weights
from valuation.results import MethodResult, ValuationInputs


def test_cost_approach_by_hand(build) -> None:
    as_of = build.as_of
    costs = pd.DataFrame(
        {
            "category": ["acquisition", "storage"],
            "amount": [100_000.0, 1_000.0],
            "currency": "CNY",
            "incurred_on": [date(2024, 1, 1), date(2025, 10, 1)],
            "recurring_months": [0, 6],
        }
    )
    asset = build.asset()
    inputs = ValuationInputs(None, costs, None, asset, "CNY")
    res = CostValuer(
        profit_margin=0.1, tax_rate=0.06, cost_inflation_rate=0.02, half_life_months=40.0
    ).value(inputs, as_of=as_of, market=build.market())
    occ = (
        [(100_000.0, date(2024, 1, 1))]
        + [(1_000.0, date(2025, m, 1)) for m in (10, 11, 12)]
        + [(1_000.0, as_of)]
    )
    ages = np.array([year_fraction(d, as_of, DayCount.ACT_365F) for _, d in occ])
    amounts = np.array([a for a, _ in occ]) * 1.02**ages
    rc = amounts.sum()
    age_m = (amounts * ages * 12).sum() / rc
    want = rc * 1.1 * 1.06 * asset.quality.score() * 0.5 ** (age_m / 40.0)
    assert res.value == pytest.approx(want, rel=1e-12)
    assert res.diagnostics["occurrences"] == 5
    given = CostValuer(obsolescence=0.25, quality_weights={"accuracy": 1.0}).value(
        inputs, as_of=as_of, market=build.market()
    )
    assert given.assumptions["quality_coefficient"] == asset.quality.accuracy
    assert given.assumptions["obsolescence"] == 0.25


def test_cost_records_in_another_currency_name_the_row(build) -> None:
    costs = build.costs().assign(currency=["CNY", "USD", "CNY"])
    with pytest.raises(ConventionError) as err:
        CostValuer().value(
            ValuationInputs(None, costs, None, build.asset(), "CNY"),
            as_of=build.as_of,
            market=build.market(),
        )
    assert err.value.field == "costs.1.currency"


def test_market_factor_adjustment_by_hand(build) -> None:
    asset = build.asset()
    comps = pd.DataFrame(
        {
            "category": "consumer",
            "price": [100.0, 200.0, 300.0],
            "currency": "CNY",
            "traded_on": [build.as_of - timedelta(days=365)] * 3,
            "records": [asset.records, asset.records * 4, asset.records],
            "quality_score": [asset.quality.score()] * 3,
            "rights_scope": ["holding", "holding", "processing_use"],
        }
    )
    res = MarketValuer(size_elasticity=0.5, market_growth_rate=0.1).value(
        ValuationInputs(None, None, comps, asset, "CNY"), as_of=build.as_of, market=build.market()
    )
    # one rights scale: the asset (all three rights, non-exclusive, domestic) scores
    # 1.0 x 0.8 x 0.9 like a plain "holding" grant; a processing-use grant scores 0.3 of
    # that, so its factor 1 / 0.3 is clipped at 3
    s_asset = asset.rights.scope_score()
    assert s_asset == pytest.approx(0.72)
    assert scope_score("holding") == pytest.approx(0.72)
    assert scope_score("processing_use") == pytest.approx(0.3 * 0.72)
    adjusted = np.array([100.0 * 1.1, 200.0 * 0.5 * 1.1, 300.0 * 1.1 * 3.0])
    assert res.diagnostics["adjusted_prices"] == pytest.approx(adjusted, rel=1e-12)
    assert res.value == pytest.approx(adjusted.mean(), rel=1e-12)  # same age: equal weights
    assert res.assumptions["method"] == "factor_adjustment"


def test_hedonic_regression_recovers_a_noise_free_price_law(build) -> None:
    rng = np.random.default_rng(8)
    n = 14
    records = rng.integers(100_000, 10_000_000, n)
    quality = rng.uniform(0.6, 0.95, n)
    scopes = np.array(["processing_use", "product_operation", "holding"])[rng.integers(0, 3, n)]
    months_ago = rng.integers(1, 30, n)
    traded = [build.as_of - timedelta(days=int(30 * m)) for m in months_ago]
    ages = np.array([year_fraction(d, build.as_of, DayCount.ACT_365F) for d in traded])
    scope_v = np.array([scope_score(s) for s in scopes])
    price = np.exp(
        10 + 0.4 * np.log(records) + 1.5 * np.log(quality) + 0.8 * np.log(scope_v) + 0.05 * ages
    )
    comps = pd.DataFrame(
        {
            "category": "consumer",
            "price": price,
            "currency": "CNY",
            "traded_on": traded,
            "records": records,
            "quality_score": quality,
            "rights_scope": scopes,
        }
    )
    asset = build.asset()
    res = MarketValuer().value(
        ValuationInputs(None, None, comps, asset, "CNY"), as_of=build.as_of, market=build.market()
    )
    want = np.exp(
        10
        + 0.4 * np.log(asset.records)
        + 1.5 * np.log(asset.quality.score())
        + 0.8 * np.log(asset.rights.scope_score())
    )
    assert res.assumptions["method"] == "hedonic_regression"
    assert res.value == pytest.approx(want, rel=1e-8)
    assert res.diagnostics["hedonic"]["coefficients"]["ln_records"] == pytest.approx(0.4, abs=1e-8)


def test_market_needs_three_comparables_of_the_category(build) -> None:
    comps = build.comparables(5).assign(
        category=["consumer", "consumer", "industrial", "industrial", "consumer"]
    )
    comps.loc[4, "currency"] = "USD"
    with pytest.raises(
        InsufficientDataError, match=r"at least 3 comparables of category 'consumer'.*Got 2"
    ):
        MarketValuer().value(
            ValuationInputs(None, None, comps, build.asset(), "CNY"),
            as_of=build.as_of,
            market=build.market(),
        )
    bad = build.comparables(3).assign(rights_scope=["holding", "everything", "holding"])
    with pytest.raises(ConventionError) as err:
        MarketValuer().value(
            ValuationInputs(None, None, bad, build.asset(), "CNY"),
            as_of=build.as_of,
            market=build.market(),
        )
    assert err.value.field == "comparables.1.rights_scope"


def test_other_methods_run_when_one_lacks_data(build) -> None:
    res = value_asset(
        build.revenue_frame(np.full(6, 1_000.0)),
        build.costs(),
        build.comparables(),
        build.asset(),
        build.as_of,
        build.market(),
        100,
        1,
    )
    assert set(res.methods) == {"cost", "market"}
    assert "income approach needs at least 12 months" in res.unavailable["income"]
    # without the income approach the range is still each approach's own uncertainty, never a point
    assert res.simulation is None
    assert res.distribution.std > 0.0
    assert res.distribution.p05 < res.value < res.distribution.p95
    assert res.quote.haircut >= 0.3  # the floor
    assert res.quote.lending_value == pytest.approx(res.value * (1 - res.quote.haircut))
    assert sum(res.weights.values()) == pytest.approx(1.0)


def test_no_method_can_run_says_what_each_lacks(build) -> None:
    empty = pd.DataFrame(columns=["month", "metric", "value"])
    with pytest.raises(NoMethodError) as err:
        value_asset(empty, None, None, build.asset(), build.as_of, build.market(), 100, 1)
    e = err.value
    assert set(e.reasons) == {"income", "cost", "market"}
    assert e.fields == {"income": "signals", "cost": "costs", "market": "comparables"}
    assert "months of revenue" in e.reasons["income"]
    assert "cost record" in e.reasons["cost"]
    assert "comparables" in e.reasons["market"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"paths": 0}, "paths"),
        ({"paths": 1_000_001}, "paths"),
        ({"seed": -1}, "seed"),
        ({"currency": "XYZ"}, "currency"),
        ({"as_of": "2026-02-30"}, "as_of"),
        ({"assumptions": {"discount_rat": 0.1}}, "assumptions.discount_rat"),
        ({"assumptions": {"revenue_share": 1.5}}, "assumptions.revenue_share"),
        ({"assumptions": {"jump_loss": 1.0}}, "assumptions.jump_loss"),
        ({"weights": {"incme": 1.0}}, "weights.incme"),
        ({"weights": {"income": -1.0}}, "weights.income"),
    ],
)
def test_bad_value_asset_input_names_the_field(build, kwargs, field) -> None:
    args = {
        "signals": build.revenue_frame(np.full(24, 1_000.0)),
        "costs": build.costs(),
        "comparables": build.comparables(),
        "asset": build.asset(),
        "as_of": build.as_of,
        "market": build.market(),
        "paths": 100,
        "seed": 1,
        **kwargs,
    }
    with pytest.raises(ConventionError) as err:
        value_asset(**args)
    assert err.value.field == field


def test_default_weights_follow_evidence_and_overrides_win() -> None:
    d = date(2026, 1, 1)
    methods = {
        "income": MethodResult("income", 100.0, "CNY", d, diagnostics={"fit": {"n_months": 12}}),
        "cost": MethodResult("cost", 50.0, "CNY", d),
        "market": MethodResult("market", 80.0, "CNY", d, diagnostics={"comparables_used": 5}),
    }
    w = reconcile_weights(methods)
    raw = {"income": 0.5 * 0.5, "cost": 0.2, "market": 0.3 * 0.5}
    assert w == pytest.approx({k: v / sum(raw.values()) for k, v in raw.items()})
    assert reconcile_weights(methods, {"income": 3.0, "cost": 1.0}) == pytest.approx(
        {"income": 0.75, "cost": 0.25, "market": 0.0}
    )
    with pytest.raises(ConventionError):
        reconcile_weights({"cost": methods["cost"]}, {"income": 1.0})


def _one_mixture(values: np.ndarray, horizon: np.ndarray | None = None, months: int = 6) -> Mixture:
    return Mixture(
        {"income": values},
        {"income": 1.0},
        {"income": values if horizon is None else horizon},
        months,
    )


def test_quote_identities() -> None:
    d = date(2026, 1, 1)
    flat = _one_mixture(np.full(100, 1_000.0))
    q = make_quote(
        1_000.0, Distribution(1_000.0, 200.0, 700.0, 990.0, 1_400.0), flat, as_of=d, currency="CNY"
    )
    assert q.half_spread == pytest.approx(0.25 * 700.0 / 1_000.0)
    assert q.bid == pytest.approx(825.0)
    assert q.ask == pytest.approx(1_175.0)
    assert q.lending_value == pytest.approx(q.mid * (1 - q.haircut))
    assert q.valid_until == d + timedelta(days=30)
    # no loss over the horizon: the floor binds (1 - 1 x 0.9 = 0.1 < 0.3)
    assert q.haircut == pytest.approx(0.3)
    assert q.parameters["floor_binding"]
    q2 = make_quote(
        1_000.0,
        Distribution.point(1_000.0),
        flat,
        as_of=d,
        currency="CNY",
        params={"haircut_floor": 0.5, "liquidation_cost": 0.2, "validity_days": 7},
    )
    assert q2.haircut == pytest.approx(0.5)
    assert q2.half_spread == 0.01
    halved = _one_mixture(np.full(100, 1_000.0), np.linspace(400.0, 600.0, 100))
    q3 = make_quote(
        1_000.0,
        Distribution.point(1_000.0),
        halved,
        as_of=d,
        currency="CNY",
        params={"haircut_floor": 0.0, "liquidation_cost": 0.2},
    )
    assert q3.haircut == pytest.approx(
        1 - np.quantile(np.linspace(400.0, 600.0, 100), 0.05) / 1_000 * 0.8
    )
    with pytest.raises(ConventionError) as err:
        make_quote(
            1.0,
            Distribution.point(1.0),
            flat,
            as_of=d,
            currency="CNY",
            params={"liquidation_cost": 2},
        )
    assert err.value.field == "assumptions.liquidation_cost"


def test_quote_haircut_from_simulated_horizon_values(build) -> None:
    """One approach weighted 1: haircut = 1 - q05(V_H) / V x (1 - c), V_H = value after 6 months today."""
    res = value_asset(
        build.revenue_frame(build.noisy_growth(36, seed=6)),
        build.costs(),
        build.comparables(),
        build.asset(),
        build.as_of,
        build.market(),
        4_000,
        3,
        weights={"income": 1.0},
        assumptions={
            "haircut_floor": 0.0,
            "liquidation_cost": 0.1,
            "liquidation_horizon_months": 6,
        },
    )
    sim = res.simulation
    df6 = sim.discount_factors[5]
    v_h = sim.horizon_value(6) * df6  # cash flows after month 6, discounted to today
    assert v_h == pytest.approx(sim.revenue[:, 6:] @ sim.discount_factors[6:], rel=1e-12)
    q = np.quantile(v_h, 0.05)
    assert res.quote.haircut == pytest.approx(1 - q / res.value * 0.9, rel=1e-12)
    assert res.quote.lending_value == pytest.approx(0.9 * q, rel=1e-12)
    d = res.distribution
    assert d.p05 <= d.p50 <= d.p95
    assert d.mean == pytest.approx(res.value, rel=0.05)
    # the range is the income approach's own range, never a point
    assert d.p05 == pytest.approx(np.quantile(sim.values, 0.05))
    assert d.p95 > d.p05


def test_value_asset_accepts_plain_data_and_reads_like_the_contract(build) -> None:
    from valuation.market import MarketData

    early = MarketData.flat_rate(
        date(2025, 6, 30),
        0.02,
        currency="CNY",
        day_count=DayCount.ACT_365F,
        compounding=Compounding.ANNUAL,
    )
    res = value_asset(
        build.revenue_frame(np.full(24, 1_000.0)),
        build.costs(),
        build.comparables(),
        build.asset().as_dict(),
        build.as_of,
        early,
        500,
        2,
        assumptions={"cost_ratio": 0.3},
    )
    assert res.distribution["p05"] == res.distribution.p05
    assert set(res.distribution.keys()) == {"mean", "std", "p05", "p50", "p95"}
    assert res.quote["lending_value"] == res.quote.lending_value
    assert res.quote["valid_until"] == res.quote.valid_until.isoformat()
    kappa = res.simulation.parameters["kappa"]
    assert res.simulation.gross_revenue() == pytest.approx(
        np.asarray(res.simulation.revenue) / kappa
    )
    late = MarketData.flat_rate(
        date(2026, 6, 30),
        0.02,
        currency="CNY",
        day_count=DayCount.ACT_365F,
        compounding=Compounding.ANNUAL,
    )
    with pytest.raises(ConventionError) as err:
        value_asset(None, build.costs(), None, build.asset(), build.as_of, late, 10, 0)
    assert err.value.field == "as_of"


def test_numpy_integers_are_accepted_for_paths_and_seed(build) -> None:
    res = value_asset(
        build.revenue_frame(np.full(24, 1_000.0)),
        None,
        None,
        build.asset(),
        build.as_of,
        build.market(),
        np.int64(300),
        np.int32(4),
    )
    assert res.paths == 300
    assert res.seed == 4
    assert isinstance(res.seed, int)


def test_a_discount_rate_needs_no_curve(build) -> None:
    kw = {
        "economic_life_months": 24,
        "half_life_months": 24.0,
        "discount_rate": 0.1,
        "cost_ratio": 0.0,
    }
    signals = build.revenue_frame(np.full(24, 1_000.0))
    without = value_asset(
        signals, None, None, build.asset(), build.as_of, None, 200, 1, assumptions=kw
    )
    with_curve = value_asset(
        signals, None, None, build.asset(), build.as_of, build.market(0.07), 200, 1, assumptions=kw
    )
    assert without.methods["income"].value == with_curve.methods["income"].value
    with pytest.raises(ConventionError) as err:
        value_asset(signals, None, None, build.asset(), build.as_of, None, 200, 1)
    assert err.value.field == "market"


def test_unknown_sizes_make_no_volume_adjustment(build) -> None:
    from dataclasses import replace

    asset = build.asset()
    comps = pd.DataFrame(
        {
            "category": "consumer",
            "price": [100.0, 200.0, 300.0],
            "currency": "CNY",
            "traded_on": [build.as_of - timedelta(days=365)] * 3,
            "records": [0, asset.records * 4, asset.records],
            "quality_score": [asset.quality.score()] * 3,
            "rights_scope": ["holding"] * 3,
        }
    )
    s = asset.rights.scope_score() / scope_score("holding")
    res = MarketValuer(size_elasticity=0.5).value(
        ValuationInputs(None, None, comps, asset, "CNY"), as_of=build.as_of, market=build.market()
    )
    assert res.diagnostics["adjusted_prices"] == pytest.approx(
        [100.0 * s, 200.0 * 0.5 * s, 300.0 * s]
    )
    unknown = replace(asset, records=0)
    res = MarketValuer(size_elasticity=0.5).value(
        ValuationInputs(None, None, comps, unknown, "CNY"), as_of=build.as_of, market=build.market()
    )
    assert res.diagnostics["adjusted_prices"] == pytest.approx([100.0 * s, 200.0 * s, 300.0 * s])


def test_unscored_comparables_get_no_quality_adjustment(build) -> None:
    asset = build.asset()
    comps = pd.DataFrame(
        {
            "category": "consumer",
            "price": [100.0, 200.0, 300.0],
            "currency": "CNY",
            "traded_on": [build.as_of - timedelta(days=365)] * 3,
            "records": [asset.records] * 3,
            "quality_score": [0.0, asset.quality.score() / 2, 0.0],
            "rights_scope": ["holding"] * 3,
        }
    )
    s = asset.rights.scope_score() / scope_score("holding")
    res = MarketValuer().value(
        ValuationInputs(None, None, comps, asset, "CNY"), as_of=build.as_of, market=build.market()
    )
    assert res.diagnostics["adjusted_prices"] == pytest.approx([100.0 * s, 400.0 * s, 300.0 * s])
