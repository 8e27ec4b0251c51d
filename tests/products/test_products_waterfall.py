"""Waterfall engine: conservation of cash, reference loop == vectorised, loss allocation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from products.pool_cashflows import pool_cashflows_from_default_periods, pool_cashflows_reference
from products.schedules import asset_schedules
from products.spec import deal_from_dict
from products.structure import Deal
from products.waterfall import WaterfallResult, run_waterfall, run_waterfall_reference

FIELDS = WaterfallResult.__slots__


@st.composite
def deals(draw: Any) -> dict[str, Any]:
    n_loans = draw(st.integers(1, 6))
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": draw(st.floats(1e3, 1e7)),
            "annual_rate": draw(st.floats(0.0, 0.15)),
            "tenor_months": draw(st.integers(1, 24)),
            "amortization": draw(st.sampled_from(["annuity", "linear", "bullet"])),
            "pd": draw(st.floats(0.0, 0.5)),
            "recovery_rate": draw(st.floats(0.0, 1.0)),
        }
        for i in range(n_loans)
    ]
    cut_off = None
    if draw(st.booleans()):
        # booked loans on their own schedules, taken at their balance on the cut-off date
        cut_off = date(2025, 3, 10)
        for loan in loans:
            freq = draw(st.sampled_from([1, 3, 6, 12]))
            loan["tenor_months"] = freq * draw(st.integers(1, 4))
            loan["frequency_months"] = freq
            loan["day_count"] = draw(st.sampled_from(["ACT/365F", "ACT/360", "30/360", "ACT/ACT"]))
            age = draw(st.integers(0, 28 * loan["tenor_months"] - 5))  # matures after the cut-off
            loan["start_date"] = (cut_off - timedelta(days=age)).isoformat()
    receivables = []
    if draw(st.booleans()):
        receivables.append(
            {
                "receivable_id": "R0",
                "cashflows": draw(st.lists(st.floats(0.0, 1e5), min_size=1, max_size=12)) + [1e4],
                "pd": 0.05,
                "recovery_rate": 0.2,
            }
        )
    n_tr = draw(st.integers(1, 4))
    advance = draw(st.sampled_from([1.0, 0.9, 0.65]))
    cuts = sorted(set(draw(st.lists(st.floats(0.01, 0.99), min_size=n_tr - 1, max_size=n_tr - 1))))
    points = [0.0, *cuts, 1.0]
    bottom = 1.0 - advance
    points = [bottom + p * advance for p in points]
    # two cuts a few ulps apart collapse into a zero-width tranche once scaled, which the deal
    # rightly refuses (`attach` must be below `detach`): such draws are not deals
    assume(all(b - a > 1e-9 for a, b in zip(points, points[1:], strict=False)))
    tranches = []
    for k in range(len(points) - 1, 0, -1):
        tr: dict[str, Any] = {"name": f"T{k}", "attach": points[k - 1], "detach": points[k]}
        if draw(st.booleans()):
            tr["coupon"] = draw(st.floats(0.0, 0.2))
        else:
            tr["spread_bp"] = draw(st.floats(0.0, 800.0))
        tranches.append(tr)
    triggers: dict[str, Any] = {}
    if draw(st.booleans()):
        triggers["oc_ratio"] = draw(st.floats(0.5, 2.0))
    if draw(st.booleans()):
        triggers["cumulative_default"] = draw(st.floats(0.0, 0.3))
    if draw(st.booleans()):
        triggers["dscr"] = [
            {
                "action": draw(st.sampled_from(["trap", "sweep"])),
                "tiers": [{"threshold": 1.5, "fraction": 0.5}, {"threshold": 1.2, "fraction": 1.0}],
            }
        ]
    if draw(st.booleans()):
        triggers["rapid_amortisation_dscr"] = draw(st.floats(0.5, 1.5))
    triggers["dscr_window"] = draw(st.integers(1, 4))
    triggers["dscr_basis"] = draw(st.sampled_from(["interest", "cash"]))
    return {
        "pool": {
            "loans": loans,
            "receivables": receivables,
            "discount_rate": draw(st.floats(0.0, 0.1)),
            "prepayment_rate": draw(st.floats(0.0, 0.3)),
            "recovery_lag_months": draw(st.integers(0, 4)),
            "cut_off_date": None if cut_off is None else cut_off.isoformat(),
        },
        "tranches": tranches,
        "senior_fee_rate": draw(st.floats(0.0, 0.02)),
        "senior_fee_fixed": draw(st.floats(0.0, 1e3)),
        "reserve": {
            "initial": draw(st.floats(0.0, 1e5)),
            "target_rate": draw(st.floats(0.0, 0.05)),
            "interest_months": draw(st.integers(0, 12)),
        },
        "principal_rule": draw(st.sampled_from(["sequential", "pro_rata"])),
        "triggers": triggers,
        "advance_rate": advance,
        "clean_up_call": draw(st.sampled_from([None, 0.1, 0.3])),
    }


def _scenarios(deal: Deal, seed: int, n: int = 6) -> Any:
    sched = asset_schedules(deal.pool)
    rng = np.random.default_rng(seed)
    hit = rng.random((n, sched.n_assets)) < 0.4
    when = rng.integers(1, sched.tenor_months + 1, size=(n, sched.n_assets))
    return sched, np.where(hit, when, 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=deals(), seed=st.integers(0, 2**31), index=st.floats(0.0, 0.08))
def test_cash_conserved_every_period_and_reference_equals_vectorised(
    spec: dict[str, Any], seed: int, index: float
) -> None:
    deal = deal_from_dict(spec)
    sched, d = _scenarios(deal, seed)
    cf = pool_cashflows_from_default_periods(sched, d)
    ref_cf = pool_cashflows_reference(sched, d)
    scale = max(deal.pool_balance, 1.0)
    for name in (
        "interest",
        "scheduled_principal",
        "prepayments",
        "defaults",
        "recoveries",
        "balance",
        "pending_recoveries",
    ):
        np.testing.assert_allclose(
            getattr(cf, name), getattr(ref_cf, name), rtol=0, atol=1e-9 * scale
        )
    rates = np.full(cf.n_periods, index)
    vec = run_waterfall(deal, cf, rates)
    ref = run_waterfall_reference(deal, cf, rates)
    for name in FIELDS:
        a, b = getattr(vec, name), getattr(ref, name)
        if a.dtype == bool:
            assert np.array_equal(a, b), name
        else:
            np.testing.assert_allclose(
                np.where(np.isinf(a), 0, a),
                np.where(np.isinf(b), 0, b),
                rtol=1e-9,
                atol=1e-9 * scale,
                err_msg=name,
            )
    for wf in (vec, ref):
        # inflows = outflows + change in reserve, in every period and scenario
        assert np.abs(wf.cash_imbalance()).max() <= 1e-10 * scale
        assert (wf.note_balance >= -1e-9 * scale).all()
        assert (wf.reserve_end >= -1e-9 * scale).all()
        # a class is written down only once every class below it is gone
        bal = wf.note_balance
        for k in range(len(deal.tranches) - 1):
            hit = wf.writedown[:, k, :] > 1e-9 * scale
            assert (
                bal[:, k + 1 :, :][np.broadcast_to(hit[:, None, :], bal[:, k + 1 :, :].shape)]
                <= 1e-9 * scale
            ).all()
        # no residual while any class carries an unpaid write-down (PDL cured first)
        owed = wf.pdl_balance.sum(axis=1) > 1e-9 * scale
        assert (wf.residual[owed] <= 1e-9 * scale).all()
        # all notes are settled (paid or written down) by the last period
        assert np.abs(bal[:, :, -1]).max() <= 1e-9 * scale


@settings(max_examples=25, deadline=None)
@given(
    n_loans=st.integers(1, 8),
    seed=st.integers(0, 2**31),
    lag=st.integers(0, 3),
    cuts=st.lists(st.floats(0.02, 0.98), min_size=1, max_size=4, unique=True),
)
def test_tranche_losses_sum_to_pool_losses(
    n_loans: int, seed: int, lag: int, cuts: list[float]
) -> None:
    """Pass-through structure (no interest, fees or reserve): every loss reaches the notes."""
    rng = np.random.default_rng(seed)
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": float(rng.uniform(1e5, 1e6)),
            "annual_rate": 0.0,
            "tenor_months": int(rng.integers(1, 13)),
            "amortization": ["annuity", "linear", "bullet"][i % 3],
            "pd": 0.2,
            "recovery_rate": float(rng.uniform(0, 0.8)),
        }
        for i in range(n_loans)
    ]
    pts = [0.0, *sorted(cuts), 1.0]
    tranches = [
        {"name": f"T{k}", "attach": pts[k - 1], "detach": pts[k], "coupon": 0.0}
        for k in range(len(pts) - 1, 0, -1)
    ]
    deal = deal_from_dict(
        {"pool": {"loans": loans, "recovery_lag_months": lag}, "tranches": tranches}
    )
    sched, d = _scenarios(deal, seed, n=20)
    cf = pool_cashflows_from_default_periods(sched, d)
    wf = run_waterfall(deal, cf)
    np.testing.assert_allclose(wf.writedown.sum(axis=(1, 2)), cf.net_loss(), rtol=1e-9, atol=1e-7)
    # each tranche's loss is the static tranching of the pool loss
    loss = cf.net_loss() / cf.initial_balance
    for k, t in enumerate(deal.tranches):
        expected = np.clip(loss - t.attach, 0.0, t.detach - t.attach) * cf.initial_balance
        np.testing.assert_allclose(
            wf.writedown[:, k, :].sum(axis=1), expected, rtol=1e-9, atol=1e-7
        )


def test_senior_interest_paid_before_junior_and_shortfall_carried() -> None:
    deal = deal_from_dict(
        {
            "pool": {
                "loans": [
                    {
                        "loan_id": "L",
                        "balance": 1e6,
                        "annual_rate": 0.06,
                        "tenor_months": 6,
                        "amortization": "bullet",
                    }
                ]
            },
            "tranches": [
                {"name": "A", "attach": 0.5, "detach": 1.0, "coupon": 0.06},
                {"name": "B", "attach": 0.0, "detach": 0.5, "coupon": 0.12},
            ],
        }
    )
    sched = asset_schedules(deal.pool)
    cf = pool_cashflows_from_default_periods(sched, np.zeros((1, 1), dtype=np.int64))
    wf = run_waterfall(deal, cf)
    # collections 5,000 a month; A is due 2,500 and B 5,000: B gets 2,500 and carries 2,500
    assert wf.interest_paid[0, 0, 0] == pytest.approx(2500.0)
    assert wf.interest_paid[0, 1, 0] == pytest.approx(2500.0)
    assert wf.interest_shortfall[0, 1, 0] == pytest.approx(2500.0)
    assert wf.interest_shortfall[0, 1, 4] == pytest.approx(12500.0)


def test_reserve_covers_interest_and_is_released_at_the_end() -> None:
    deal = deal_from_dict(
        {
            "pool": {
                "loans": [
                    {
                        "loan_id": "L",
                        "balance": 1e6,
                        "annual_rate": 0.0,
                        "tenor_months": 3,
                        "amortization": "bullet",
                    }
                ]
            },
            "tranches": [{"name": "A", "attach": 0.0, "detach": 1.0, "coupon": 0.12}],
            "reserve": {"initial": 30_000.0},
        }
    )
    sched = asset_schedules(deal.pool)
    cf = pool_cashflows_from_default_periods(sched, np.zeros((1, 1), dtype=np.int64))
    wf = run_waterfall(deal, cf)
    np.testing.assert_allclose(wf.interest_paid[0, 0], [10_000.0] * 3)
    np.testing.assert_allclose(wf.reserve_end[0], [20_000.0, 10_000.0, 0.0], atol=1e-9)
    assert wf.principal_paid[0, 0].sum() == pytest.approx(1e6)


def test_pro_rata_switches_to_sequential_on_cumulative_default_trigger() -> None:
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": 1e5,
            "annual_rate": 0.05,
            "tenor_months": 12,
            "amortization": "linear",
            "pd": 0.1,
        }
        for i in range(10)
    ]
    spec = {
        "pool": {"loans": loans},
        "tranches": [
            {"name": "A", "attach": 0.2, "detach": 1.0, "coupon": 0.03},
            {"name": "B", "attach": 0.0, "detach": 0.2, "coupon": 0.05},
        ],
        "principal_rule": "pro_rata",
        "triggers": {"cumulative_default": 0.15},
    }
    deal = deal_from_dict(spec)
    sched = asset_schedules(deal.pool)
    d = np.zeros((1, 10), dtype=np.int64)
    d[0, :2] = 3  # 20 % of the pool defaults in month 3
    wf = run_waterfall(deal, pool_cashflows_from_default_periods(sched, d))
    assert not wf.sequential[0, 1]
    assert wf.sequential[0, 2]
    assert wf.sequential[0, -1]
    # pro rata before the breach: both classes amortise in proportion to their balances
    assert wf.principal_paid[0, 1, 0] / wf.principal_paid[0, 0, 0] == pytest.approx(0.25)
