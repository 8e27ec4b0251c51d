"""Tranche analytics: EL as the PV of shortfalls, price from a discount margin (or solved from a
market price), yield from the price, effective duration of floating classes."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

from products.spec import deal_from_dict
from products.structure import Deal
from products.tranches import EXPECTED_LOSS_BASIS, analyze_deal
from valuation.market import default_curve

AS_OF = date(2025, 1, 15)


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


def test_expected_loss_counts_unpaid_interest_not_only_principal() -> None:
    """Defaults whose recoveries come late leave the junior class's coupon short (paid late,
    without interest, or never). EL = 1 - PV of the cash received, at the
    class's own coupon, over par (its promised PV): recomputed here from the waterfall."""
    from products.pool_cashflows import pool_cashflows_from_survival
    from products.scenarios import cdr_survival
    from products.schedules import asset_schedules
    from products.waterfall import run_waterfall

    loans = [
        {
            "loan_id": f"L{i}",
            "balance": 1e5,
            "annual_rate": 0.04,
            "tenor_months": 24,
            "amortization": "bullet",
            "pd": 0.05,
            "recovery_rate": 1.0,
        }
        for i in range(10)
    ]
    deal = deal_from_dict(
        {
            "pool": {"loans": loans, "recovery_lag_months": 9},
            "tranches": [
                {"name": "A", "attach": 0.5, "detach": 1.0, "coupon": 0.02},
                {"name": "E", "attach": 0.0, "detach": 0.5, "coupon": 0.05},
            ],
        }
    )
    market = default_curve(AS_OF, "CNY", 0.02)
    clean = analyze_deal(deal, market=market, method="cdr", cdr=0.0)
    assert all(t.expected_loss == 0.0 for t in clean.tranches)  # the promised PV itself
    res = analyze_deal(deal, market=market, method="cdr", cdr=0.3)
    e = res.by_name("E")
    sched = asset_schedules(deal.pool)
    wf = run_waterfall(
        deal,
        pool_cashflows_from_survival(sched, cdr_survival(0.3, sched.n_periods)),
        np.zeros(sched.n_periods),
    )
    assert wf.interest_shortfall[0, 1].max() > 0.0  # coupons paid late count too
    got = wf.interest_paid[0, 1] + wf.principal_paid[0, 1] + wf.pdl_cure[0, 1]
    t = np.arange(1, got.size + 1)
    by_hand = 1.0 - float(got @ (1 + 0.05 / 12) ** -t) / 5e5
    assert e.expected_loss == pytest.approx(by_hand, rel=1e-12)
    assert res.expected_loss_basis == EXPECTED_LOSS_BASIS
    assert "shortfalls" in EXPECTED_LOSS_BASIS


def test_price_from_a_discount_margin_and_back_from_a_market_price() -> None:
    deal = amortising_deal(pd=0.03)
    market = default_curve(AS_OF, "CNY", 0.025)
    res = analyze_deal(
        deal, market=market, method="lhp", correlation=0.15, discount_margin_bp={"M": 350.0}
    )
    m = res.by_name("M")
    assert m.discount_margin_bp == 350.0
    dates = [
        date(2025 + (m_ // 12), 1 + m_ % 12, 15)
        for m_ in range(1, res.expected_cashflows.shape[1] + 1)
    ]
    from valuation.conventions import DayCount, year_fraction

    times = np.array([year_fraction(AS_OF, d, DayCount.ACT_365F) for d in dates])
    df = market.discount_factors(dates) * np.exp(-0.035 * times)
    assert m.price == pytest.approx(res.expected_cashflows[1] @ df / m.balance * 100, rel=1e-12)
    back = analyze_deal(
        deal, market=market, method="lhp", correlation=0.15, market_price={"M": m.price}
    )
    assert back.by_name("M").discount_margin_bp == pytest.approx(350.0, abs=1e-6)
    assert back.by_name("M").market_price == m.price
    # yield: the promised cash (no defaults) at the price
    promised = analyze_deal(deal, market=market, method="cdr", cdr=0.0).expected_cashflows[1]
    y = m.yield_rate
    t = np.arange(1, promised.size + 1)
    assert promised @ (1 + y / 12) ** -t == pytest.approx(m.price / 100 * m.balance, rel=1e-9)


def test_mezzanine_with_losses_prices_below_par_and_yields_above_its_coupon() -> None:
    market = default_curve(AS_OF, "CNY", 0.02)
    clean = analyze_deal(amortising_deal(pd=0.0), market=market, method="cdr", cdr=0.0)
    risky = analyze_deal(amortising_deal(pd=0.06), market=market, method="lhp", correlation=0.2)
    assert clean.by_name("M").price == pytest.approx(100.0, abs=0.5)
    m = risky.by_name("M")
    assert m.expected_loss > 0.0
    assert m.price < clean.by_name("M").price
    assert m.yield_rate > 0.06 > clean.by_name("M").yield_rate - 0.005
    assert len({round(t.yield_rate, 6) for t in risky.tranches}) == 3  # not the curve for all


def test_floating_class_effective_duration_is_the_curve_bump() -> None:
    deal = amortising_deal(pd=0.0)
    res = analyze_deal(deal, market=default_curve(AS_OF, "CNY", 0.03), method="cdr", cdr=0.0)
    a = res.by_name("A")
    assert a.duration_basis == "effective"
    assert abs(a.duration) < 0.1  # resets monthly: about one month, not its WAL
    assert a.modified_duration > 0.5
    m = res.by_name("M")
    assert m.duration_basis == "modified"
    assert m.duration == m.modified_duration > 0.5


def test_unknown_class_in_market_price_is_refused() -> None:
    from valuation.errors import ConventionError

    with pytest.raises(ConventionError) as err:
        analyze_deal(
            amortising_deal(),
            market=default_curve(AS_OF, "CNY", 0.02),
            method="cdr",
            cdr=0.0,
            market_price={"Z": 99.0},
        )
    assert err.value.field == "market_price.Z"
