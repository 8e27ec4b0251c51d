"""Default and recovery economics: liquidity default with a buffer and a cure period,
workout LGD with its floor, Basel effective maturity, EL over the tenor, tax gross-up,
and the LHP granularity rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit.capital import irb_capital
from credit.contributions import LHP_MIN_LOANS, check_lhp_granularity, portfolio_risk
from credit.pricing import effective_maturity, price_loan, tenor_expected_loss
from credit.recovery import liquidity_default, workout_lgd
from valuation.errors import ConventionError


def test_one_thin_month_is_not_a_default() -> None:
    ds = np.full(12, 100.0)
    rev = np.full((1, 12), 150.0)
    rev[0, 4] = 50.0  # coverage 0.5 for one month
    assert not liquidity_default(rev, ds).defaulted[0]
    # the old month-by-month definition (no buffer, no cure) would have defaulted
    strict = liquidity_default(rev, ds, cash_buffer=0.0, cure_months=1)
    assert strict.defaulted[0]
    assert strict.default_month[0] == 4


def test_sustained_shortfall_defaults_when_buffer_and_cure_run_out() -> None:
    ds = np.full(24, 100.0)
    rev = np.full((1, 24), 60.0)  # 40 short a month from month 1
    res = liquidity_default(rev, ds)  # buffer 300: cash 260, 220, ..., 20 (month 7), -20 (month 8)
    # arrears from month 8 (index 7); three months in arrears -> default at index 9
    assert res.default_month[0] == 9
    # a cure: revenue recovers after two months in arrears
    rev2 = rev.copy()
    rev2[0, 9:] = 200.0
    assert not liquidity_default(rev2, ds).defaulted[0]


def test_revenue_accumulates_between_quarterly_payments() -> None:
    ds = np.zeros(12)
    ds[2::3] = 300.0
    rev = np.full((1, 12), 100.0)  # exactly covers each quarter
    assert not liquidity_default(rev, ds, cash_buffer=0.0, cure_months=1).defaulted[0]


@settings(max_examples=50, deadline=None)
@given(buffer=st.floats(0.0, 1_000.0), extra=st.floats(0.0, 1_000.0), cure=st.integers(1, 6))
def test_more_buffer_or_longer_cure_never_adds_defaults(
    buffer: float, extra: float, cure: int
) -> None:
    rng = np.random.default_rng(3)
    rev = rng.lognormal(np.log(100.0), 0.6, (200, 24))
    ds = np.full(24, 100.0)
    base = liquidity_default(rev, ds, cash_buffer=buffer, cure_months=cure).defaulted
    assert not (
        liquidity_default(rev, ds, cash_buffer=buffer + extra, cure_months=cure).defaulted & ~base
    ).any()
    assert not (
        liquidity_default(rev, ds, cash_buffer=buffer, cure_months=cure + 1).defaulted & ~base
    ).any()


def test_workout_lgd_by_hand() -> None:
    ead = np.array([100.0, 100.0])
    coll = np.array([120.0, 400.0])
    defaulted = np.array([True, False])
    res = workout_lgd(
        ead,
        coll,
        defaulted,
        distressed_discount=0.3,
        liquidation_cost=0.1,
        workout_cost=0.05,
        time_to_recover_months=12,
        workout_rate=0.10,
        lgd_floor=0.15,
    )
    recovery = 120.0 * 0.7 * 0.9 / 1.1 - 5.0
    assert res.unfloored == pytest.approx((100.0 - recovery) / 100.0, rel=1e-12)
    assert res.lgd == pytest.approx(max(0.15, res.unfloored))
    # ample collateral: the floor binds
    rich = workout_lgd(ead, coll * 100, defaulted)
    assert rich.unfloored < 0.15
    assert rich.lgd == 0.15
    # earlier pledges rank first
    behind = workout_lgd(ead, coll, defaulted, prior_claims=50.0)
    assert behind.unfloored > res.unfloored


@settings(max_examples=50, deadline=None)
@given(
    v=st.floats(0.0, 1e6),
    e=st.floats(1.0, 1e6),
    d=st.floats(0.0, 1.0),
    w=st.floats(0.0, 1.0),
    t=st.integers(0, 120),
    floor=st.floats(0.0, 1.0),
)
def test_economic_lgd_is_within_floor_and_one(v, e, d, w, t, floor) -> None:
    res = workout_lgd(
        np.array([e]),
        np.array([v]),
        np.array([True]),
        distressed_discount=d,
        workout_cost=w,
        time_to_recover_months=t,
        lgd_floor=floor,
    )
    assert floor - 1e-15 <= res.lgd <= 1.0


def test_effective_maturity_of_a_36_month_annuity_by_hand() -> None:
    r = 0.06 / 12
    payment = r / (1 - (1 + r) ** -36)  # per unit of principal
    t = np.arange(1, 37) / 12.0
    want = float(sum(tk * payment for tk in t) / (36 * payment))
    assert want == pytest.approx(37 / 24)
    assert effective_maturity(t, np.full(36, payment)) == pytest.approx(want, rel=1e-12)
    # capital is lower than at the contractual 3-year maturity
    assert irb_capital(0.02, 0.45, want) < irb_capital(0.02, 0.45, 3.0)
    # floored at one year, capped at five
    assert effective_maturity(np.array([0.25]), np.array([1.0])) == 1.0
    assert effective_maturity(np.array([7.0]), np.array([1.0])) == 5.0


def test_tenor_el_is_the_hazard_for_monthly_payments() -> None:
    t = np.arange(1, 121) / 12.0
    _, el = tenor_expected_loss(0.03, 0.4, t, np.ones(120))
    assert el == pytest.approx(-math.log(0.97) * 0.4, rel=2e-3)
    pd_t, el_annual = tenor_expected_loss(0.03, 0.4, np.array([1.0]), np.array([1.0]))
    assert pd_t == pytest.approx(0.03)
    assert el_annual == pytest.approx(0.03 * 0.4 / 0.97)
    pd_36, _ = tenor_expected_loss(0.03, 0.4, np.arange(1, 37) / 12.0, np.ones(36))
    assert pd_36 == pytest.approx(1 - 0.97**3)


def test_capital_charge_is_grossed_up_for_tax() -> None:
    p = price_loan(0.01, 0.4, 0.08, 0.02, hurdle_rate=0.12, tax_rate=0.25)
    assert p.capital == pytest.approx(0.08 * (0.12 / 0.75 - 0.02))
    assert p.total == pytest.approx(p.funding + p.expected_loss + p.capital + p.costs)
    assert price_loan(0.01, 0.4, 0.08, 0.02).capital == pytest.approx(0.08 * 0.10)


def test_lhp_is_refused_for_a_book_that_is_not_granular() -> None:
    with pytest.raises(ConventionError) as err:
        check_lhp_granularity(np.ones(LHP_MIN_LOANS - 1))
    assert err.value.field == "method"
    eads = np.ones(200)
    eads[0] = 20.0  # 20 / 219 > 5 %
    with pytest.raises(ConventionError):
        portfolio_risk(np.full(200, 0.02), eads, 0.45, 0.12, method="lhp")
    ok = portfolio_risk(np.full(200, 0.02), np.ones(200), 0.45, 0.12, method="lhp")
    assert ok.var > ok.expected_loss > 0
