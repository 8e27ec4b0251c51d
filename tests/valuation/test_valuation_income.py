"""Income approach: recomputed by hand from the API contract assumption semantics."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from valuation import value_asset
from valuation.conventions import Compounding, DayCount, add_months, year_fraction
from valuation.errors import ConventionError, InsufficientDataError
from valuation.income import IncomeValuer, payment_dates
from valuation.market import MarketData
from valuation.results import ValuationInputs


def hand_value(
    monthly: float,
    *,
    as_of: date,
    months: int,
    half_life: float,
    rate: float,
    kappa: float,
) -> float:
    """sum_k kappa R 0.5^(k/H) (1 + r)^-t_k, t_k = ACT/365F(as_of, as_of + k months)."""
    total = 0.0
    for k in range(1, months + 1):
        t = (add_months(as_of, k) - as_of).days / 365.0
        total += kappa * monthly * 0.5 ** (k / half_life) * (1.0 + rate) ** (-t)
    return total


def test_direct_income_value_by_hand(build) -> None:
    inputs = ValuationInputs(
        build.revenue_frame(np.full(36, 10_000.0)), None, None, build.asset(), "CNY"
    )
    valuer = IncomeValuer(
        income_form="direct",
        revenue_share=0.6,
        cost_ratio=0.25,
        tax_rate=0.2,
        economic_life_months=60,
        half_life_months=18.0,
        discount_rate=0.12,
    )
    got = valuer.value(inputs, as_of=build.as_of, market=build.market())
    want = hand_value(
        10_000.0, as_of=build.as_of, months=60, half_life=18.0, rate=0.12, kappa=0.6 * 0.75 * 0.8
    )
    assert got.value == pytest.approx(want, rel=1e-10)
    assert got.assumptions["economic_life_months"] == 60
    assert got.assumptions["discount_rate"] == 0.12
    assert got.assumptions["timing"] == "end"


def test_value_asset_income_method_is_the_deterministic_value(build) -> None:
    as_of = date(2025, 7, 1)  # mid-year: month lengths differ, ACT/365F matters
    signals = build.revenue_frame(np.full(30, 8_000.0), start="2023-01-01")
    market = MarketData.flat_rate(
        as_of, 0.03, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
    )
    result = value_asset(
        signals,
        build.costs(),
        build.comparables(),
        build.asset(),
        as_of,
        market,
        2_000,
        11,
        assumptions={
            "income_form": "direct",
            "revenue_share": 0.5,
            "cost_ratio": 0.1,
            "tax_rate": 0.0,
            "economic_life_months": 48,
            "half_life_months": 30.0,
            "discount_rate": 0.09,
        },
    )
    want = hand_value(8_000.0, as_of=as_of, months=48, half_life=30.0, rate=0.09, kappa=0.5 * 0.9)
    assert result.methods["income"].value == pytest.approx(want, rel=1e-10)
    assert result.simulation is not None
    assert result.simulation.months == 48


def test_discounting_on_the_curve_plus_risk_premium(build) -> None:
    # A flat 3 % annual-compounded ACT/365F curve spreaded by 5 % is (1.08)^-t.
    inputs = ValuationInputs(
        build.revenue_frame(np.full(24, 1_000.0)), None, None, build.asset(), "CNY"
    )
    market = build.market(0.03)
    got = IncomeValuer(
        income_form="direct",
        tax_rate=0.0,
        revenue_share=1.0,
        cost_ratio=0.0,
        economic_life_months=24,
        half_life_months=1e9,
        risk_premium=0.05,
    ).value(inputs, as_of=build.as_of, market=market)
    want = hand_value(1_000.0, as_of=build.as_of, months=24, half_life=1e9, rate=0.08, kappa=1.0)
    assert got.value == pytest.approx(want, rel=1e-9)
    assert got.assumptions["risk_premium"] == 0.05


def test_economic_life_is_the_shortest_of_rights_contract_and_decay(build) -> None:
    sig = build.revenue_frame(np.full(24, 1_000.0))
    inp = ValuationInputs(sig, None, None, build.asset(term_months=30), "CNY")
    res = IncomeValuer(half_life_months=12.0).value(inp, as_of=build.as_of, market=build.market())
    assert res.assumptions["economic_life_months"] == 30
    assert res.assumptions["economic_life_binding"] == "rights_term"
    res = IncomeValuer(half_life_months=12.0, contract_term_months=20).value(
        inp, as_of=build.as_of, market=build.market()
    )
    assert res.assumptions["economic_life_months"] == 20
    inp = ValuationInputs(sig, None, None, build.asset(), "CNY")
    res = IncomeValuer(half_life_months=6.0).value(inp, as_of=build.as_of, market=build.market())
    # 0.5 ** (k / 6) < 5 % from k = ceil(6 log2 20) = 26
    assert res.assumptions["economic_life_months"] == 26
    assert res.assumptions["economic_life_binding"] == "decay_horizon"


def test_income_forms_relate_as_documented(build) -> None:
    inp = ValuationInputs(
        build.revenue_frame(np.full(24, 1_000.0)), None, None, build.asset(), "CNY"
    )
    common = {
        "cost_ratio": 0.2,
        "economic_life_months": 36,
        "discount_rate": 0.1,
        "half_life_months": 24.0,
        "tax_rate": 0.25,
    }
    m = build.market()
    direct = (
        IncomeValuer(income_form="direct", **common).value(inp, as_of=build.as_of, market=m).value
    )
    split = (
        IncomeValuer(income_form="split", **common).value(inp, as_of=build.as_of, market=m).value
    )
    excess = (
        IncomeValuer(income_form="excess_earnings", contributory_charge_rate=0.1, **common)
        .value(inp, as_of=build.as_of, market=m)
        .value
    )
    incr = (
        IncomeValuer(income_form="incremental", without_revenue_ratio=0.6, **common)
        .value(inp, as_of=build.as_of, market=m)
        .value
    )
    assert split == pytest.approx(0.25 * direct, rel=1e-12)
    # post-tax: direct is (1 - c)(1 - tau) = 0.6 of revenue; excess earnings deducts the
    # contributory charges (a share of revenue) from that margin
    assert excess == pytest.approx(direct * (0.6 - 0.1) / 0.6, rel=1e-12)
    assert incr == pytest.approx(0.4 * direct, rel=1e-12)
    royalty = IncomeValuer(income_form="royalty", royalty_rate=0.12, **common).value(
        inp, as_of=build.as_of, market=m
    )
    assert royalty.value == pytest.approx(direct * 0.12 * 0.75 / 0.6, rel=1e-12)
    assert royalty.assumptions["royalty_rate"] == 0.12
    assert "cost_ratio" not in royalty.assumptions
    # charges above the margin: value floored at zero, never negative
    zero = (
        IncomeValuer(income_form="excess_earnings", contributory_charge_rate=0.9, **common)
        .value(inp, as_of=build.as_of, market=m)
        .value
    )
    assert zero == 0.0


def test_mid_month_timing_is_worth_more_at_positive_rates(build) -> None:
    inp = ValuationInputs(
        build.revenue_frame(np.full(24, 1_000.0)), None, None, build.asset(), "CNY"
    )
    kw = {"economic_life_months": 24, "discount_rate": 0.1, "half_life_months": 24.0}
    end = (
        IncomeValuer(timing="end", **kw).value(inp, as_of=build.as_of, market=build.market()).value
    )
    mid = (
        IncomeValuer(timing="mid", **kw).value(inp, as_of=build.as_of, market=build.market()).value
    )
    assert mid > end
    assert payment_dates(build.as_of, 2, "end") == (date(2026, 2, 1), date(2026, 3, 1))


def test_usage_times_unit_price_when_revenue_is_sparse(build) -> None:
    months = pd.date_range("2023-01-01", periods=36, freq="MS")
    usage = pd.DataFrame({"month": months, "metric": "api_calls", "value": 100_000.0})
    revenue = pd.DataFrame(
        {"month": months[-4:], "metric": "revenue", "value": 2_000.0}
    )  # 0.02 / call
    inp = ValuationInputs(pd.concat([usage, revenue]), None, None, build.asset(), "CNY")
    res = IncomeValuer(
        income_form="direct",
        tax_rate=0.0,
        revenue_share=1.0,
        cost_ratio=0.0,
        economic_life_months=12,
        half_life_months=1e9,
        discount_rate=0.0,
    ).value(inp, as_of=build.as_of, market=build.market())
    assert res.assumptions["forecast"] == "api_calls x unit price"
    want = sum(2_000.0 * 0.5 ** (k / 1e9) for k in range(1, 13))  # unit price 0.02 x 100,000 calls
    assert res.value == pytest.approx(want, rel=1e-9)


def test_too_little_history_names_the_method_and_what_is_missing(build) -> None:
    inp = ValuationInputs(
        build.revenue_frame(np.full(6, 1_000.0)), None, None, build.asset(), "CNY"
    )
    with pytest.raises(
        InsufficientDataError, match="income approach needs at least 12 months of revenue"
    ):
        IncomeValuer().value(inp, as_of=build.as_of, market=build.market())


def test_market_curve_in_another_currency_is_rejected(build) -> None:
    inp = ValuationInputs(
        build.revenue_frame(np.full(24, 1_000.0)), None, None, build.asset(), "CNY"
    )
    usd = MarketData.flat_rate(
        build.as_of,
        0.04,
        currency="USD",
        day_count=DayCount.ACT_365F,
        compounding=Compounding.ANNUAL,
    )
    with pytest.raises(ConventionError) as err:
        IncomeValuer().value(inp, as_of=build.as_of, market=usd)
    assert err.value.field == "currency"
    # an explicit discount rate replaces the curve, so its currency no longer matters
    assert IncomeValuer(discount_rate=0.1).value(inp, as_of=build.as_of, market=usd).value > 0


def test_year_fraction_semantics_used_are_act_365f() -> None:
    assert year_fraction(date(2024, 1, 1), date(2025, 1, 1), DayCount.ACT_365F) == pytest.approx(
        366 / 365
    )
