"""Tranche analytics against independent references: Vasicek large pool (closed form),
the 125-name copula pool (exact recursion), no-default identities and solver round trips."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from products.pool_cashflows import pool_cashflows_from_survival
from products.scenarios import (
    cdr_survival,
    copula_default_periods,
    homogeneous_copula_survival,
    scenario_chunks,
)
from products.schedules import asset_schedules
from products.solvers import break_even_cdr, size_attachment, size_deal_attachment
from products.spec import deal_from_dict
from products.static_loss import static_tranche_expected_loss
from products.structure import Deal
from products.tranches import analyze, analyze_deal, investor_cashflows
from products.waterfall import run_waterfall
from valuation.conventions import add_months
from valuation.errors import ConventionError
from valuation.market import default_curve

DATA = Path(__file__).resolve().parents[1] / "data" / "products"
LHP = json.loads((DATA / "vasicek_lhp.json").read_text())
POOL125 = json.loads((DATA / "copula_pool_125.json").read_text())
AS_OF = date(2025, 1, 15)


def static_deal(loans: list[dict[str, Any]], tranches: list[list[float]]) -> Deal:
    """Zero-coupon bullet loans, zero-coupon notes, no fees: tranche write-downs are the
    static tranching of the pool loss at maturity."""
    trs = [
        {"name": f"T{k}", "attach": a, "detach": d, "coupon": 0.0}
        for k, (a, d) in enumerate(reversed(tranches))
    ]
    return deal_from_dict({"pool": {"loans": loans}, "tranches": trs})


def lhp_deal(case: dict[str, Any]) -> Deal:
    loan = {
        "loan_id": "pool",
        "balance": 1.0,
        "annual_rate": 0.0,
        "tenor_months": 12,
        "amortization": "bullet",
        "pd": case["pd"],
        "recovery_rate": case["recovery"],
    }
    return static_deal([loan], [[t["attach"], t["detach"]] for t in case["tranches"]])


@pytest.mark.parametrize(
    "case", LHP["cases"][::4], ids=lambda c: f"pd{c['pd']}-rho{c['rho']}-R{c['recovery']}"
)
def test_large_pool_and_monte_carlo_agree_within_three_standard_errors(
    case: dict[str, Any],
) -> None:
    # Reference: closed form LHP (../shared/reference/vasicek_lhp.json). Monte Carlo: the
    # copula on a 1,000,000-loan homogeneous pool (binomial defaults given the factor) fed
    # through the waterfall; granularity error ~1e-8, far below the standard error.
    deal = lhp_deal(case)
    sched = asset_schedules(deal.pool)
    rng = np.random.default_rng(20240601)
    n_paths = 20_000
    surv = homogeneous_copula_survival(case["pd"], case["rho"], 1_000_000, 12, n_paths, rng)
    wf = run_waterfall(deal, pool_cashflows_from_survival(sched, surv))
    faces = np.array([t.balance for t in deal.tranches])
    loss = wf.writedown.sum(axis=2) / faces  # (paths, tranches), senior first
    refs = [t["expected_loss_fraction"] for t in reversed(case["tranches"])]
    checked = 0
    for k, ref in enumerate(refs):
        mean = loss[:, k].mean()
        se = loss[:, k].std(ddof=1) / math.sqrt(n_paths)
        if ref < 1e-4:  # too rare for 20,000 paths to see: only check it is not over-stated
            assert mean <= ref + 3 * se + 1e-4
            continue
        checked += 1
        assert abs(mean - ref) <= 3 * se, (deal.tranches[k].name, mean, ref, se)
    assert checked >= 1


@pytest.mark.parametrize("case", LHP["cases"][1::5], ids=lambda c: f"pd{c['pd']}-rho{c['rho']}")
def test_static_lhp_expected_loss_matches_closed_form(case: dict[str, Any]) -> None:
    deal = lhp_deal(case)
    got = static_tranche_expected_loss(deal, case["rho"], method="lhp")
    refs = [t["expected_loss_fraction"] for t in reversed(case["tranches"])]
    np.testing.assert_allclose(got, refs, rtol=0, atol=1e-8)  # reference tolerance


def test_large_pool_waterfall_integrates_the_closed_form() -> None:
    # The waterfall on large-pool scenarios (factor quadrature of the conditional pool)
    # against the closed form. The integrand has kinks at the attachment points, so a
    # quadrature converges like n^-2: 1,024 nodes reach about 1e-6 of the tranche (measured
    # 8e-7 on this case), not the closed form's 1e-8.
    for case in (LHP["cases"][12], LHP["cases"][17]):
        deal = lhp_deal(case)
        res = analyze(
            deal,
            scenario_chunks(deal, "lhp", correlation=case["rho"], n_nodes=1024),
            market=default_curve(AS_OF, "CNY", 0.02),
        )
        refs = [t["expected_loss_fraction"] for t in reversed(case["tranches"])]
        got = [t.expected_loss for t in res.tranches]
        np.testing.assert_allclose(got, refs, rtol=0, atol=2e-6)


def pool125_deal() -> Deal:
    inp = POOL125["inputs"]
    loans = [
        {
            "loan_id": f"N{i}",
            "balance": n,
            "annual_rate": 0.0,
            "tenor_months": 12,
            "amortization": "bullet",
            "pd": p,
            "recovery_rate": r,
        }
        for i, (p, n, r) in enumerate(zip(inp["pd"], inp["notional"], inp["recovery"], strict=True))
    ]
    return static_deal(loans, POOL125["tranches"])


def test_copula_monte_carlo_on_the_125_name_pool_within_four_standard_errors() -> None:
    # Reference: exact recursion, ../shared/reference/copula_pool_125.json ("MC within 4 s.e.")
    deal = pool125_deal()
    rho = POOL125["inputs"]["beta"][0] ** 2
    res = analyze_deal(
        deal,
        market=default_curve(AS_OF, "CNY", 0.02),
        method="mc",
        correlation=rho,
        n_paths=20_000,
        seed=11,
        chunk_size=5_000,
    )
    refs = list(reversed(POOL125["tranche_expected_loss_fraction"]))
    for t, ref in zip(res.tranches, refs, strict=True):
        if ref < 1e-4:
            continue
        assert abs(t.expected_loss - ref) <= 4 * t.expected_loss_std_error, (
            t.name,
            t.expected_loss,
            ref,
        )
    assert res.pool_expected_loss == pytest.approx(
        POOL125["expected_loss_fraction_of_pool"], rel=0.05
    )
    assert res.seed == 11
    assert res.n_scenarios == 20_000


def test_static_recursion_reproduces_the_125_name_pool() -> None:
    deal = pool125_deal()
    rho = POOL125["inputs"]["beta"][0] ** 2
    got = static_tranche_expected_loss(deal, rho, method="recursion")
    refs = list(reversed(POOL125["tranche_expected_loss_fraction"]))
    np.testing.assert_allclose(got, refs, rtol=0, atol=1e-9)  # reference tolerance


def test_default_times_follow_the_marginal_pd() -> None:
    deal = pool125_deal()
    sched = asset_schedules(deal.pool)
    d = copula_default_periods(sched, 0.25, 40_000, np.random.default_rng(3))
    freq = (d > 0).mean(axis=0)
    pd = np.array(POOL125["inputs"]["pd"])
    se = np.sqrt(pd * (1 - pd) / 40_000)
    assert (np.abs(freq - pd) <= 5 * se).mean() > 0.99
    assert d.max() <= 12
    assert d[d > 0].min() >= 1


def amortising_deal(pd: float = 0.0, **extra: Any) -> Deal:
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": 1e6,
            "annual_rate": 0.07,
            "tenor_months": 36,
            "amortization": "annuity",
            "pd": pd,
            "recovery_rate": 0.3,
        }
        for i in range(20)
    ]
    spec = {
        "pool": {"loans": loans, "recovery_lag_months": 2},
        "tranches": [
            {"name": "A", "attach": 0.25, "detach": 1.0, "spread_bp": 120},
            {"name": "M", "attach": 0.10, "detach": 0.25, "coupon": 0.06},
            {"name": "E", "attach": 0.0, "detach": 0.10, "coupon": 0.05},
        ],
        "senior_fee_rate": 0.005,
        **extra,
    }
    return deal_from_dict(spec)


def test_without_defaults_fair_spreads_are_zero_and_floating_notes_price_at_par() -> None:
    deal = amortising_deal(pd=0.0)
    res = analyze_deal(deal, market=default_curve(AS_OF, "CNY", 0.03), method="cdr", cdr=0.0)
    for t in res.tranches:
        assert t.expected_loss == 0.0
        assert t.prob_loss == 0.0
        assert t.fair_spread_bp == pytest.approx(0.0, abs=1e-8)
    a = res.by_name("A")  # floating at the curve's forwards + 120 bp, discounted at curve + 120 bp
    assert a.price == pytest.approx(100.0, abs=0.05)


def test_bullet_tranche_wal_duration_and_yield() -> None:
    deal = static_deal(
        [
            {
                "loan_id": "L",
                "balance": 1e6,
                "annual_rate": 0.0,
                "tenor_months": 24,
                "amortization": "bullet",
                "pd": 0.0,
            }
        ],
        [[0.0, 1.0]],
    )
    market = default_curve(AS_OF, "CNY", 0.04)
    res = analyze_deal(deal, market=market, method="cdr", cdr=0.0)
    t = res.tranches[0]
    assert t.wal_years == pytest.approx(2.0, rel=1e-12)
    df = market.discount_factors([date(2027, 1, 15)])[0]
    assert t.price == pytest.approx(100.0 * df, rel=1e-12)
    assert t.yield_rate == pytest.approx(12 * ((1 / df) ** (1 / 24) - 1), rel=1e-9)
    assert t.duration == pytest.approx(2.0 / (1 + t.yield_rate / 12), rel=1e-9)


def test_losses_rank_by_seniority_and_prices_fall_with_correlation() -> None:
    deal = amortising_deal(pd=0.04)
    market = default_curve(AS_OF, "CNY", 0.02)
    lo = analyze_deal(deal, market=market, method="lhp", correlation=0.05)
    hi = analyze_deal(deal, market=market, method="lhp", correlation=0.4)
    for res in (lo, hi):
        els = [t.expected_loss for t in res.tranches]
        assert els[0] <= els[1] <= els[2]
        assert all(0.0 <= t.prob_loss <= 1.0 for t in res.tranches)
    assert hi.by_name("A").expected_loss > lo.by_name("A").expected_loss
    assert hi.by_name("A").price < lo.by_name("A").price


def test_recursion_and_mc_scenarios_agree_on_pool_loss() -> None:
    deal = amortising_deal(pd=0.04)
    market = default_curve(AS_OF, "CNY", 0.02)
    rec = analyze_deal(deal, market=market, method="recursion", correlation=0.2)
    mc = analyze_deal(deal, market=market, method="mc", correlation=0.2, n_paths=20_000, seed=5)
    assert rec.pool_expected_loss == pytest.approx(mc.pool_expected_loss, rel=0.05)


def test_break_even_default_rates_rise_with_seniority() -> None:
    deal = amortising_deal(pd=0.0)
    be = [break_even_cdr(deal, t.name) for t in deal.tranches]
    assert be[2].cdr < be[1].cdr < be[0].cdr
    sched = asset_schedules(deal.pool)
    for k, b in enumerate(be):
        for cdr, loses in ((b.cdr * 0.99, False), (min(b.cdr * 1.01, 0.9999), True)):
            cf = pool_cashflows_from_survival(sched, cdr_survival(cdr, sched.n_periods))
            wf = run_waterfall(deal, cf)
            assert bool(wf.writedown[0, k].sum() > 1e-6 * deal.tranches[k].balance) is loses


def test_sizing_solvers_hit_the_target_expected_loss() -> None:
    from credit.portfolio import vasicek_tranche_loss

    a = size_attachment(0.005, 0.3, pd=0.03, correlation=0.2, recovery=0.4)
    assert vasicek_tranche_loss(0.03, 0.2, 0.4, a, 0.3) == pytest.approx(0.005, abs=1e-10)
    deal = pool125_deal()
    a2 = size_deal_attachment(deal, "T1", 0.01, correlation=0.25)  # class [0.15, 0.3]
    trial = static_deal(
        [
            {
                "loan_id": x.loan_id,
                "balance": x.balance,
                "annual_rate": 0.0,
                "tenor_months": 12,
                "amortization": "bullet",
                "pd": x.pd,
                "recovery_rate": x.recovery_rate,
            }
            for x in deal.pool.loans
        ],
        [[0.0, a2], [a2, 0.3], [0.3, 1.0]],
    )
    got = static_tranche_expected_loss(trial, 0.25, method="recursion")
    assert got[1] == pytest.approx(0.01, abs=1e-9)


def test_guarantee_wrap_substitutes_the_guarantor() -> None:
    plain = amortising_deal(pd=0.05)
    spec_tr = [
        {"name": "A", "attach": 0.25, "detach": 1.0, "spread_bp": 120},
        {
            "name": "M",
            "attach": 0.10,
            "detach": 0.25,
            "coupon": 0.06,
            "guarantee": {"guarantor_pd": 0.01, "guarantor_recovery": 0.4},
        },
        {"name": "E", "attach": 0.0, "detach": 0.10, "coupon": 0.05},
    ]
    loans = [
        {
            "loan_id": x.loan_id,
            "balance": x.balance,
            "annual_rate": x.annual_rate,
            "tenor_months": x.tenor_months,
            "pd": x.pd,
            "recovery_rate": x.recovery_rate,
        }
        for x in plain.pool.loans
    ]
    wrapped = deal_from_dict(
        {
            "pool": {"loans": loans, "recovery_lag_months": 2},
            "tranches": spec_tr,
            "senior_fee_rate": 0.005,
        }
    )
    sched = asset_schedules(plain.pool)
    cf = pool_cashflows_from_survival(sched, cdr_survival(0.3, sched.n_periods))
    wf = run_waterfall(wrapped, cf)
    times = np.arange(1, cf.n_periods + 1) / 12.0
    cash, loss = investor_cashflows(wrapped, wf, times)
    h = -math.log(1 - 0.01)
    factor = (1 - 0.4) * (1 - np.exp(-h * times))
    np.testing.assert_allclose(loss[0, 1], wf.writedown[0, 1] * factor, rtol=1e-12)
    assert wf.writedown[0, 1].sum() > 0
    assert loss[0, 1].sum() < 0.02 * wf.writedown[0, 1].sum()
    m = default_curve(AS_OF, "CNY", 0.02)
    res_w = analyze(wrapped, [cf], market=m)
    res_p = analyze(plain, [cf], market=m)
    assert res_w.by_name("M").price > res_p.by_name("M").price
    assert res_w.by_name("M").risk_weight < res_p.by_name("M").risk_weight
    assert res_w.by_name("A").price == pytest.approx(res_p.by_name("A").price, rel=1e-12)


def test_monte_carlo_is_reproducible_from_its_seed() -> None:
    deal = amortising_deal(pd=0.05)
    m = default_curve(AS_OF, "CNY", 0.02)
    r1 = analyze_deal(deal, market=m, n_paths=3000, seed=42, chunk_size=1000)
    r2 = analyze_deal(deal, market=m, n_paths=3000, seed=42, chunk_size=1000)
    assert r1.tranches == r2.tranches


def test_wrapped_tranche_loses_only_when_the_guarantor_defaults() -> None:
    # a deterministic scenario where M is written down: unwrapped P(loss) = 1; wrapped it is
    # the guarantor's default probability by the last write-down month
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": 1e6,
            "annual_rate": 0.07,
            "tenor_months": 36,
            "pd": 0.05,
            "recovery_rate": 0.3,
        }
        for i in range(20)
    ]
    tranches = [
        {"name": "A", "attach": 0.25, "detach": 1.0, "coupon": 0.03},
        {
            "name": "M",
            "attach": 0.10,
            "detach": 0.25,
            "coupon": 0.06,
            "guarantee": {"guarantor_pd": 0.02, "guarantor_recovery": 0.4},
        },
        {"name": "E", "attach": 0.0, "detach": 0.10, "coupon": 0.05},
    ]
    deal = deal_from_dict({"pool": {"loans": loans}, "tranches": tranches})
    res = analyze_deal(deal, market=default_curve(AS_OF, "CNY", 0.02), method="cdr", cdr=0.3)
    sched = asset_schedules(deal.pool)
    wf = run_waterfall(
        deal, pool_cashflows_from_survival(sched, cdr_survival(0.3, sched.n_periods))
    )
    months = np.nonzero(wf.writedown[0, 1] > 0)[0]
    assert months.size > 0
    t_last = (months[-1] + 1) / 12.0  # ACT/365F months are close to 1/12 year
    expected = 1 - math.exp(math.log(1 - 0.02) * t_last)
    assert res.by_name("M").prob_loss == pytest.approx(expected, rel=0.01)
    assert res.by_name("E").prob_loss == 1.0


def test_equity_class_takes_the_residual_cash() -> None:
    loans = [
        {"loan_id": f"L{i}", "balance": 1e6, "annual_rate": 0.08, "tenor_months": 24, "pd": 0.0}
        for i in range(5)
    ]
    spec = {
        "pool": {"loans": loans},
        "tranches": [
            {"name": "A", "attach": 0.1, "detach": 1.0, "coupon": 0.03},
            {"name": "E", "attach": 0.0, "detach": 0.1, "coupon": 0.0, "equity": True},
        ],
    }
    deal = deal_from_dict(spec)
    sched = asset_schedules(deal.pool)
    cf = pool_cashflows_from_survival(sched, cdr_survival(0.0, sched.n_periods))
    wf = run_waterfall(deal, cf)
    cash, _ = investor_cashflows(deal, wf, np.arange(1, cf.n_periods + 1) / 12.0)
    # without defaults all collections reach the two classes (no fees, no reserve)
    np.testing.assert_allclose(cash.sum(axis=1), cf.collections, rtol=1e-12, atol=1e-6)
    bad = dict(spec, tranches=[{**spec["tranches"][0], "equity": True}, spec["tranches"][1]])
    with pytest.raises(ConventionError) as err:
        deal_from_dict(bad)
    assert err.value.field == "tranches[0].equity"


def test_wal_is_the_area_under_the_expected_balance() -> None:
    deal = amortising_deal(pd=0.05)
    market = default_curve(AS_OF, "CNY", 0.02)
    res = analyze_deal(deal, market=market, method="cdr", cdr=0.2)
    sched = asset_schedules(deal.pool)
    df = market.discount_factors([add_months(AS_OF, m) for m in range(1, sched.n_periods + 1)])
    index = (np.concatenate([[1.0], df[:-1]]) / df - 1.0) * 12.0  # the curve's monthly forwards
    cf = pool_cashflows_from_survival(sched, cdr_survival(0.2, sched.n_periods))
    wf = run_waterfall(deal, cf, index)
    for k, t in enumerate(res.tranches):
        bal = np.concatenate([[deal.tranches[k].balance], wf.note_balance[0, k, :-1]])
        assert t.wal_years == pytest.approx(bal.sum() / 12.0 / deal.tranches[k].balance, rel=1e-9)
