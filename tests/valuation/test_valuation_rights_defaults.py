"""Rights count and the appraiser's defaults: post-tax excess earnings with contributory
charges, relief from royalty, a 60-month life cap, the product-operation gate, one rights
scale for assets and comparables, revenue multiples and the Hampel filter."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samples.data_assets import generate_samples
from valuation.asset import AssetProfile, Rights, rights_score
from valuation.conventions import Compounding, DayCount
from valuation.engine import value_asset
from valuation.errors import ConventionError
from valuation.income import IncomeValuer
from valuation.market import MarketData
from valuation.market_approach import (
    MarketValuer,
    hampel_keep,
    parse_scope,
    scope_score,
    trailing_annual_revenue,
)
from valuation.results import ValuationInputs


def _income(build, asset=None, **kw):
    inp = ValuationInputs(
        build.revenue_frame(np.full(36, 10_000.0)), None, None, asset or build.asset(), "CNY"
    )
    return IncomeValuer(**kw).value(inp, as_of=build.as_of, market=build.market())


def test_defaults_are_post_tax_excess_earnings_over_at_most_sixty_months(build) -> None:
    res = _income(build, cost_ratio=0.2, half_life_months=1e6, discount_rate=0.1)
    a = res.assumptions
    assert a["income_form"] == "excess_earnings"
    assert a["income_form_source"] == "default"
    assert a["tax_rate"] == 0.25
    assert a["cash_flows"] == "post-tax"
    assert a["contributory_charge_rate"] == 0.10
    assert a["max_life_months"] == 60
    assert a["economic_life_months"] == 60
    assert a["economic_life_binding"] == "max_life"
    # kappa = (1 - 0.2)(1 - 0.25) - 0.10 = 0.5
    assert res.diagnostics["kappa"] == pytest.approx(0.5, rel=1e-12)
    direct = _income(
        build, income_form="direct", cost_ratio=0.2, half_life_months=1e6, discount_rate=0.1
    )
    assert res.value == pytest.approx(direct.value * 0.5 / 0.6, rel=1e-12)


def test_relief_from_royalty_flags_its_default_rate(build) -> None:
    res = value_asset(
        build.revenue_frame(np.full(36, 10_000.0)),
        None,
        None,
        build.asset(),
        build.as_of,
        build.market(),
        500,
        1,
        assumptions={"income_form": "royalty"},
    )
    a = res.methods["income"].assumptions
    assert a["royalty_rate"] == 0.10
    assert a["royalty_rate_source"] == "default"
    assert res.methods["income"].diagnostics["kappa"] == pytest.approx(0.10 * 0.75, rel=1e-12)
    assert any(
        w["code"] == "default_assumption" and "royalty_rate" in w["message"] for w in res.warnings
    )


def test_rights_term_caps_the_economic_life(build) -> None:
    capped = _income(build, build.asset(term_months=18), half_life_months=1e6, discount_rate=0.1)
    assert capped.assumptions["economic_life_months"] == 18
    assert capped.assumptions["economic_life_binding"] == "rights_term"
    full = _income(build, half_life_months=1e6, discount_rate=0.1)
    assert capped.value < full.value


def test_without_product_operation_third_party_revenue_is_not_credited(build) -> None:
    asset = build.asset()
    own = replace(asset, rights=replace(asset.rights, product_operation=False))
    res = _income(build, own, cost_ratio=0.2, discount_rate=0.1)
    assert res.assumptions["income_form"] == "incremental"
    assert res.assumptions["income_form_source"].startswith("no product_operation")
    assert res.value < _income(build, cost_ratio=0.2, discount_rate=0.1).value
    royalty = _income(build, own, income_form="royalty", discount_rate=0.1)
    assert royalty.assumptions["income_form"] == "royalty"
    for form in ("direct", "split", "excess_earnings"):
        with pytest.raises(ConventionError) as err:
            _income(build, own, income_form=form)
        assert err.value.field == "assumptions.income_form"
    full = value_asset(
        build.revenue_frame(np.full(36, 10_000.0)),
        None,
        None,
        own,
        build.as_of,
        build.market(),
        300,
        1,
    )
    assert any(
        w["code"] == "default_assumption" and "product-operation" in w["message"]
        for w in full.warnings
    )


def test_one_rights_scale_for_assets_and_comparables() -> None:
    names = ("holding", "processing_use", "product_operation", "exclusive", "cross_border")
    for bits in itertools.product((False, True), repeat=5):
        flags = dict(zip(names, bits, strict=True))
        assert Rights(**flags).scope_score() == rights_score(**flags)
    assert scope_score("full") == pytest.approx(Rights().scope_score())
    assert scope_score("holding+exclusive+cross_border") == pytest.approx(1.0)
    assert scope_score("product_operation") == pytest.approx(0.6 * 0.8 * 0.9)
    assert parse_scope("processing_use+exclusive")["exclusive"] is True
    for bad in ("exclusive", "holding+everything", "holding+exclusive+non_exclusive", ""):
        with pytest.raises(ConventionError):
            parse_scope(bad)


def _comps(build, prices, scopes, revenue=None):
    n = len(prices)
    asset = build.asset()
    data = {
        "category": "consumer",
        "price": prices,
        "currency": "CNY",
        "traded_on": [build.as_of - timedelta(days=200)] * n,
        "records": [asset.records] * n,
        "quality_score": [asset.quality.score()] * n,
        "rights_scope": scopes,
    }
    if revenue is not None:
        data["annual_revenue"] = revenue
    return pd.DataFrame(data)


def test_exclusive_and_cross_border_rights_raise_the_market_value(build) -> None:
    comps = _comps(build, [100.0, 110.0, 120.0], ["holding"] * 3)
    base = build.asset()
    values = {}
    for e in (False, True):
        for c in (False, True):
            asset = replace(base, rights=replace(base.rights, exclusive=e, cross_border=c))
            values[(e, c)] = (
                MarketValuer()
                .value(
                    ValuationInputs(None, None, comps, asset, "CNY"),
                    as_of=build.as_of,
                    market=build.market(),
                )
                .value
            )
    assert values[(True, False)] == pytest.approx(values[(False, False)] / 0.8, rel=1e-12)
    assert values[(False, True)] == pytest.approx(values[(False, False)] / 0.9, rel=1e-12)
    # like for like on the one scale: an exclusive asset against exclusive grants of the same
    # price is worth what a non-exclusive asset is worth against non-exclusive grants
    excl = replace(base, rights=replace(base.rights, exclusive=True))
    same = (
        MarketValuer()
        .value(
            ValuationInputs(
                None,
                None,
                _comps(build, [100.0, 110.0, 120.0], ["holding+exclusive"] * 3),
                excl,
                "CNY",
            ),
            as_of=build.as_of,
            market=build.market(),
        )
        .value
    )
    assert same == pytest.approx(values[(False, False)], rel=1e-12)


def test_revenue_multiple_by_hand(build) -> None:
    signals = build.revenue_frame(np.full(36, 50_000.0))  # 600,000 a year
    comps = _comps(
        build,
        [1_000_000.0, 1_500_000.0, 900_000.0, 800_000.0],
        ["holding"] * 4,
        [1_000_000.0, 1_000_000.0, 600_000.0, None],
    )
    res = MarketValuer().value(
        ValuationInputs(signals, None, comps, build.asset(), "CNY"),
        as_of=build.as_of,
        market=build.market(),
    )
    assert res.assumptions["method"] == "revenue_multiple"
    assert res.assumptions["asset_annual_revenue"] == pytest.approx(600_000.0)
    assert res.diagnostics["comparables_without_revenue"] == 1
    assert res.value == pytest.approx(600_000.0 * (1.0 + 1.5 + 1.5) / 3.0, rel=1e-12)


def test_revenue_multiple_needs_three_comparables_with_revenue(build) -> None:
    signals = build.revenue_frame(np.full(36, 50_000.0))
    comps = _comps(build, [1e6, 1.5e6, 9e5], ["holding"] * 3, [1e6, 1e6, None])
    res = MarketValuer().value(
        ValuationInputs(signals, None, comps, build.asset(), "CNY"),
        as_of=build.as_of,
        market=build.market(),
    )
    assert res.assumptions["method"] == "factor_adjustment"
    assert "annual_revenue" in res.diagnostics["revenue_multiple_unavailable"]


def test_a_wild_comparable_is_left_out(build) -> None:
    prices = [100.0, 105.0, 98.0, 102.0, 101.0, 5_000.0]
    res = MarketValuer().value(
        ValuationInputs(None, None, _comps(build, prices, ["holding"] * 6), build.asset(), "CNY"),
        as_of=build.as_of,
        market=build.market(),
    )
    assert res.diagnostics["outliers_left_out"] == 1
    assert res.value == pytest.approx(np.mean(prices[:5]), rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1.0, 1e6), min_size=1, max_size=30))
def test_hampel_keeps_the_median(values) -> None:
    x = np.asarray(values)
    keep = hampel_keep(x)
    assert keep.sum() >= (x.size + 1) // 2


def test_trailing_revenue_annualises_the_complete_months_of_the_year(build) -> None:
    sig = build.revenue_frame(np.full(36, 1_000.0))
    assert trailing_annual_revenue(sig, build.as_of) == pytest.approx(12_000.0)
    assert trailing_annual_revenue(sig.iloc[:-6], build.as_of) == pytest.approx(12_000.0)
    assert trailing_annual_revenue(sig.iloc[:12], build.as_of) is None


def test_sample_market_values_scale_with_revenue() -> None:
    samples = generate_samples(5, n_assets=50, n_comparables=200)
    market_v, revenue = [], []
    for a in samples.assets:
        profile = AssetProfile.from_mapping(a.profile)
        inp = ValuationInputs(a.signals, a.costs, samples.comparables, profile, "CNY")
        mkt = MarketData.flat_rate(
            samples.as_of,
            0.02,
            currency="CNY",
            day_count=DayCount.ACT_365F,
            compounding=Compounding.ANNUAL,
        )
        market_v.append(MarketValuer().value(inp, as_of=samples.as_of, market=mkt).value)
        revenue.append(trailing_annual_revenue(a.signals, samples.as_of))
    rho = np.corrcoef(np.log(market_v), np.log(revenue))[0, 1]
    assert rho > 0.8
