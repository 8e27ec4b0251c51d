"""Stress runner: zero shock = base exactly, closed forms, monotonicity, result shapes."""

from __future__ import annotations

import json
import math
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit.capital import irb_capital
from credit.portfolio import loss_distribution, tranche_expected_loss
from risk.book import AssetPosition, Book, LoanPosition
from risk.inputs import METRICS, MarketGrid, RunConfig, Variant
from risk.library import builtins, get_builtin
from risk.runner import StressRunner, run_stress
from risk.scenarios import RightsEvent, Scenario, Shocks
from valuation.errors import ConventionError

NEUTRAL = Shocks(
    revenue_multiplier=1.0,
    revenue_multiplier_by_category={"consumer": 1.0},
    usage_multiplier=1.0,
    growth_shift=0.0,
    volatility_multiplier=1.0,
    obsolescence_hazard_add=0.0,
    half_life_multiplier=1.0,
    rate_shift_bp=0.0,
    key_rate_shifts_bp={"1Y": 0.0},
    credit_spread_shift_bp=0.0,
    pd_multiplier=1.0,
    lgd_add=0.0,
    downturn_lgd=False,
    correlation_shift=0.0,
    liquidation_cost_add=0.0,
    rights_events=(RightsEvent("consumer", False, 1.0),),
)


def test_zero_shock_reproduces_base_exactly(runner: StressRunner) -> None:
    scenarios = [
        Scenario("neutral", NEUTRAL, 12),
        get_builtin("severe_combined").scaled(0.0),
        get_builtin("baseline"),
    ]
    for res in runner.run(scenarios):
        pos = res.positions
        assert len(pos) > 0
        assert np.array_equal(pos["base"].to_numpy(), pos["stressed"].to_numpy())
        assert np.all(pos["delta"].to_numpy()[np.isfinite(pos["delta"].to_numpy())] == 0.0)
        assert res.aggregate["base"].equals(res.aggregate["stressed"])


def test_deterministic_asset_value_is_the_discounted_sum() -> None:
    # no volatility, no hazard: V = sum_k R0 exp(g t_k) 0.5^(k/h) exp(-(r + prem) t_k)
    a = AssetPosition(
        id="x",
        category="industrial",
        currency="CNY",
        revenue_0=1000.0,
        growth_rate=0.03,
        volatility=0.0,
        half_life_months=36.0,
        economic_life_months=24,
        risk_premium=0.05,
    )
    grid = MarketGrid.flat(0.02, 36)
    book = Book.build("CNY", [a])
    res = run_stress(
        book,
        Scenario("up", Shocks(rate_shift_bp=100.0, revenue_multiplier=0.8)),
        grid,
        config=RunConfig(n_paths=8),
    )[0]
    k = np.arange(1, 25)
    t = k / 12
    base = np.sum(1000.0 * np.exp(0.03 * t) * 0.5 ** (k / 36) * np.exp(-0.07 * t))
    stressed = np.sum(800.0 * np.exp(0.03 * t) * 0.5 ** (k / 36) * np.exp(-0.08 * t))
    cv = res.aggregate.loc["collateral_value"]
    assert cv["base"] == pytest.approx(base, rel=1e-12)
    assert cv["stressed"] == pytest.approx(stressed, rel=1e-12)
    # deterministic: the value after the 12-month horizon, discounted to today, is known;
    # haircut = max(0.3, 1 - V_H / V_0 x 0.9), lending value = V_0 (1 - haircut)
    v12 = np.sum(1000.0 * np.exp(0.03 * t[12:]) * 0.5 ** (k[12:] / 36) * np.exp(-0.07 * t[12:]))
    lv = res.aggregate.loc["lending_value", "base"]
    assert lv == pytest.approx(min(0.9 * v12, 0.7 * base), rel=1e-12)
    unfloored = run_stress(
        book,
        Scenario("up", Shocks(revenue_multiplier=0.8)),
        grid,
        config=RunConfig(n_paths=8, haircut_floor=0.0),
    )[0]
    assert unfloored.aggregate.loc["lending_value", "base"] == pytest.approx(0.9 * v12, rel=1e-12)


def test_loan_figures_follow_credit_formulas(runner: StressRunner) -> None:
    res = runner.run(get_builtin("downturn_credit"))[0]
    pd_b, pd_s = res.figures("loan", "pd")
    lgd_b, lgd_s = res.figures("loan", "lgd")
    el_b, el_s = res.figures("loan", "expected_loss")
    cap_b, cap_s = res.figures("loan", "capital")
    loans = runner.book.loans
    ead = np.array([x.exposure for x in loans])
    np.testing.assert_allclose(pd_s, np.minimum(2.5 * pd_b, 1.0), rtol=1e-14)
    # downturn: long-run 40 % + 15 points is the floor; the collateral shortfall on the
    # (now more numerous, so on average less severe) default paths may raise it further
    assert np.all(lgd_s >= 0.55 - 1e-15)
    assert np.all(lgd_b >= 0.40)
    np.testing.assert_allclose(el_s, pd_s * lgd_s * ead, rtol=1e-14)
    for i, ln in enumerate(loans):
        k = irb_capital(pd_s[i], lgd_s[i], maturity_years=ln.maturity_years)
        assert cap_s[i] == pytest.approx(k * ln.exposure, rel=1e-12)


def test_tranche_expected_loss_matches_the_pool_loss_distribution(runner: StressRunner) -> None:
    res = runner.run(get_builtin("baseline"))[0]
    book = runner.book
    pd_b, _ = res.figures("loan", "pd")
    lgd_b, _ = res.figures("loan", "lgd")
    idx = [i for i, x in enumerate(book.loans) if x.id in set(book.tranches[0].loan_ids)]
    ead = np.array([book.loans[i].exposure for i in idx])
    cum = 1.0 - (1.0 - pd_b[idx]) ** 3.0
    losses, probs = loss_distribution(cum, ead, lgd_b[idx], 0.18)
    tel, _ = res.figures("tranche", "tranche_expected_loss")
    for j, t in enumerate(book.tranches):
        assert tel[j] == pytest.approx(
            tranche_expected_loss(losses / ead.sum(), probs, t.attach, t.detach), rel=1e-12
        )
    assert tel[0] > tel[1] > tel[2] > 0.0


@settings(max_examples=15, deadline=None)
@given(m1=st.floats(0.2, 1.5), m2=st.floats(0.2, 1.5), g=st.floats(-0.3, 0.0))
def test_harsher_revenue_shock_never_raises_collateral_or_lowers_el(
    runner: StressRunner, m1: float, m2: float, g: float
) -> None:
    hi, lo = max(m1, m2), min(m1, m2)
    mild = Scenario("mild", Shocks(revenue_multiplier=hi), 12)
    harsh = Scenario("harsh", Shocks(revenue_multiplier=lo, growth_shift=g), 12)
    fig = runner.evaluate(
        [Variant(mild.shocks, 12), Variant(harsh.shocks, 12)], tranches=False, tail=False
    )
    a, b = (_Pair(fig, 0), _Pair(fig, 1))
    for kind, metric in (
        ("asset", "collateral_value"),
        ("loan", "collateral_value"),
        ("asset", "lending_value"),
    ):
        assert np.all(b.figures(kind, metric)[1] <= a.figures(kind, metric)[1] * (1 + 1e-12))
    for metric in ("expected_loss", "pd", "ltv"):
        assert np.all(b.figures("loan", metric)[1] >= a.figures("loan", metric)[1] * (1 - 1e-12))
    assert b.figures("loan", "expected_loss")[1].sum() >= a.figures("loan", "expected_loss")[
        1
    ].sum() * (1 - 1e-12)


class _Pair:
    """``figures(kind, metric)[1]``: the figures of one variant of an evaluation."""

    def __init__(self, fig, v: int) -> None:  # type: ignore[no-untyped-def]
        self.fig, self.v = fig, v

    def figures(self, kind: str, metric: str):  # type: ignore[no-untyped-def]
        arr = self.fig.metrics[kind][metric][self.v]
        return arr, arr


def test_portfolio_tail_is_credits_var_and_es(runner: StressRunner) -> None:
    from credit.capital import asset_correlation
    from credit.portfolio import expected_shortfall, value_at_risk

    res = runner.run(get_builtin("downturn_credit"))[0]
    pd_b, pd_s = res.figures("loan", "pd")
    lgd_b, lgd_s = res.figures("loan", "lgd")
    ead = np.array([x.exposure for x in runner.book.loans])
    rho = asset_correlation(np.array([x.pd for x in runner.book.loans]))
    for col, p, lg, r in (("base", pd_b, lgd_b, rho), ("stressed", pd_s, lgd_s, rho + 0.05)):
        losses, probs = loss_distribution(p, ead, lg, r)
        assert res.aggregate.loc["loss_var", col] == pytest.approx(
            value_at_risk(losses, probs, 0.999), rel=1e-12
        )
        assert res.aggregate.loc["loss_es", col] == pytest.approx(
            expected_shortfall(losses, probs, 0.999), rel=1e-12
        )
    assert res.aggregate.loc["loss_es", "stressed"] > res.aggregate.loc["loss_es", "base"]


def test_library_scenarios_move_the_book_the_right_way(runner: StressRunner) -> None:
    results = {r.scenario.name: r.aggregate for r in runner.run(builtins())}
    assert results["rates_up_200bp"].loc["collateral_value", "delta"] < 0
    assert results["data_demand_slump"].loc["expected_loss", "delta"] > 0
    assert results["regulatory_cross_border"].loc["collateral_value", "delta"] < 0
    assert results["ai_obsolescence"].loc["collateral_value", "delta"] < 0
    assert results["downturn_credit"].loc["collateral_value", "delta"] == 0
    assert results["downturn_credit"].loc["tranche_expected_loss", "delta"] > 0
    severe = results["severe_combined"]
    for name in ("data_demand_slump", "downturn_credit", "rates_up_200bp"):
        assert (
            severe.loc["expected_loss", "stressed"] > results[name].loc["expected_loss", "stressed"]
        )


def test_results_do_not_depend_on_chunking_or_order(small_book: Book, grid: MarketGrid) -> None:
    sc = get_builtin("severe_combined")
    a = run_stress(
        small_book, sc, grid, config=RunConfig(n_paths=32, asset_chunk_size=3, loan_chunk_size=5)
    )[0]
    b = run_stress(
        small_book,
        sc,
        grid,
        config=RunConfig(n_paths=32, asset_chunk_size=100, loan_chunk_size=1000),
    )[0]
    pd.testing.assert_frame_equal(a.positions, b.positions)
    rev = Book.build("CNY", small_book.assets[::-1], small_book.loans, small_book.tranches)
    c = run_stress(rev, sc, grid, config=RunConfig(n_paths=32))[0]
    x = a.positions.query("kind == 'asset'").set_index(["id", "metric"]).sort_index()
    y = c.positions.query("kind == 'asset'").set_index(["id", "metric"]).sort_index()
    pd.testing.assert_frame_equal(x, y)


def test_json_and_csv_shapes(runner: StressRunner) -> None:
    res = runner.run(get_builtin("data_demand_slump"))[0]
    doc = json.loads(json.dumps(res.to_json("run-1")))
    assert doc["run_id"] == "run-1"
    assert doc["scenario"] == "data_demand_slump"
    for metric in (
        "collateral_value",
        "lending_value",
        "ltv",
        "pd",
        "lgd",
        "expected_loss",
        "capital",
        "margin_calls",
        "tranche_expected_loss",
        "price",
    ):
        assert set(doc["aggregate"][metric]) == {"base", "stressed", "delta"}
    kinds = {p["kind"] for p in doc["positions"]}
    assert kinds == {"asset", "loan", "tranche"}
    loan = next(p for p in doc["positions"] if p["kind"] == "loan")
    assert {"id", "ltv", "pd", "lgd", "expected_loss", "capital", "margin_calls"} <= set(loan)
    tranche = next(p for p in doc["positions"] if p["kind"] == "tranche")
    assert {"tranche_expected_loss", "price"} <= set(tranche)
    table = pd.read_csv(StringIO(res.to_csv()))
    assert list(table.columns) == ["scenario", "kind", "id", "metric", "base", "stressed", "delta"]
    assert set(table["metric"]) <= set(METRICS)
    assert (table["kind"] == "aggregate").sum() == len(res.aggregate)


def test_progress_reaches_one(runner: StressRunner) -> None:
    seen: list[float] = []
    runner.run(get_builtin("rates_up_200bp"), progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert len(seen) > 2


def test_book_validation_names_the_field() -> None:
    a = AssetPosition(id="a", category="consumer", currency="CNY", revenue_0=1.0)
    with pytest.raises(ConventionError) as info:
        Book.build("CNY", [a, a])
    assert info.value.field == "assets[1].id"
    ln = LoanPosition(
        id="l",
        currency="USD",
        principal=1.0,
        pd=0.01,
        lgd=0.4,
        annual_rate=0.05,
        maturity_years=1.0,
        collateral={"a": None},
    )
    with pytest.raises(ConventionError) as info:
        Book.build("CNY", [a], [ln])
    assert info.value.field == "loans[0].currency"
    with pytest.raises(ConventionError) as info:
        LoanPosition(
            id="l",
            currency="CNY",
            principal=1.0,
            pd=1.5,
            lgd=0.4,
            annual_rate=0.05,
            maturity_years=1.0,
        )
    assert info.value.field == "pd"
    over = [
        LoanPosition(
            id=f"l{i}",
            currency="CNY",
            principal=1.0,
            pd=0.01,
            lgd=0.4,
            annual_rate=0.05,
            maturity_years=1.0,
            collateral={"a": 0.6},
        )
        for i in range(2)
    ]
    with pytest.raises(ConventionError):
        Book.build("CNY", [a], over)


def test_unpledged_shares_are_pro_rata_to_principal(book_factory) -> None:  # type: ignore[no-untyped-def]
    book = book_factory(2, 3, tranches=False)
    shares = [x.collateral["a0"] for x in book.loans if "a0" in x.collateral]
    principals = [x.principal for x in book.loans if "a0" in x.collateral]
    assert math.fsum(shares) == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_allclose(
        np.array(shares) / np.array(principals), shares[0] / principals[0], rtol=1e-12
    )


@settings(max_examples=12, deadline=None)
@given(
    revenue=st.floats(1.0, 1e6),
    vol=st.floats(0.0, 1.0),
    hazard=st.floats(0.0, 0.5),
    growth=st.floats(-0.5, 0.5),
    share=st.floats(0.1, 1.0),
    pd_=st.floats(1e-4, 0.5),
)
def test_zero_shock_is_exact_on_any_book(
    revenue: float, vol: float, hazard: float, growth: float, share: float, pd_: float
) -> None:
    # consumer + cross-border: the neutral category multiplier and rights event apply to it
    a = AssetPosition(
        id="a",
        category="consumer",
        currency="CNY",
        revenue_0=revenue,
        volatility=vol,
        obsolescence_hazard=hazard,
        growth_rate=growth,
        half_life_months=30.0,
        economic_life_months=24,
        risk_premium=0.05,
        cross_border=True,
    )
    ln = LoanPosition(
        id="l",
        currency="CNY",
        principal=revenue * 10.0,
        pd=pd_,
        lgd=0.4,
        annual_rate=0.05,
        maturity_years=2.0,
        collateral={"a": share},
    )
    runner = StressRunner(
        Book.build("CNY", [a], [ln]), MarketGrid.flat(0.03, 24), RunConfig(n_paths=16)
    )
    neutral, scaled = runner.run(
        [Scenario("neutral", NEUTRAL, 12), get_builtin("severe_combined").scaled(0.0)]
    )
    for res in (neutral, scaled):
        assert np.array_equal(
            res.positions["base"].to_numpy(), res.positions["stressed"].to_numpy()
        )
    base_pd, _ = neutral.figures("loan", "pd")
    assert base_pd[0] == pd_


def test_unsecured_loans_have_no_ltv_and_no_margin_call() -> None:
    a = AssetPosition(id="a", category="consumer", currency="CNY", revenue_0=100.0)
    secured = LoanPosition(
        id="s",
        currency="CNY",
        principal=1000.0,
        pd=0.02,
        lgd=0.4,
        annual_rate=0.05,
        maturity_years=1.0,
        collateral={"a": 1.0},
    )
    unsecured = LoanPosition(
        id="u",
        currency="CNY",
        principal=5000.0,
        pd=0.02,
        lgd=0.4,
        annual_rate=0.05,
        maturity_years=1.0,
    )
    res = run_stress(
        Book.build("CNY", [a], [secured, unsecured]),
        get_builtin("baseline"),
        MarketGrid.flat(0.02, 60),
        config=RunConfig(n_paths=8),
    )[0]
    ltv, _ = res.figures("loan", "ltv")
    calls, _ = res.figures("loan", "margin_calls")
    coll, _ = res.figures("loan", "collateral_value")
    assert np.isnan(ltv[1])
    assert calls[1] == 0.0
    assert res.figures("loan", "lgd")[0][1] == 0.4
    assert res.aggregate.loc["ltv", "base"] == pytest.approx(1000.0 / coll[0], rel=1e-14)
    doc = res.to_json()
    assert next(p for p in doc["positions"] if p["id"] == "u")["ltv"]["base"] is None


def test_capital_uses_the_regulatory_lgd_when_given() -> None:
    a = AssetPosition(id="a", category="consumer", currency="CNY", revenue_0=1000.0)
    loans = [
        LoanPosition(
            id=f"l{i}",
            currency="CNY",
            principal=1000.0,
            pd=0.02,
            lgd=0.1,
            annual_rate=0.05,
            maturity_years=1.0,
            collateral={"a": 0.5},
            lgd_regulatory=reg,
        )
        for i, reg in enumerate((None, 0.45))
    ]
    res = run_stress(
        Book.build("CNY", [a], loans),
        get_builtin("baseline"),
        MarketGrid.flat(0.02, 60),
        config=RunConfig(n_paths=8),
    )[0]
    lgd, _ = res.figures("loan", "lgd")
    cap, _ = res.figures("loan", "capital")
    assert lgd[0] == lgd[1] < 0.45  # well secured: the economic LGD stays low
    assert cap[0] == pytest.approx(
        irb_capital(0.02, lgd[0], maturity_years=1.0) * 1000.0, rel=1e-12
    )
    assert cap[1] == pytest.approx(irb_capital(0.02, 0.45, maturity_years=1.0) * 1000.0, rel=1e-12)
