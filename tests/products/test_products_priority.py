"""Priority of payments: coverage tests after the principal step, trailing DSCR, PDL per class,
reserve releases through the waterfall, clean-up call (Moody's / KBRA / absbox practice)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from products.pool_cashflows import PoolCashflows, pool_cashflows_from_default_periods
from products.schedules import asset_schedules
from products.spec import deal_from_dict
from products.waterfall import WaterfallResult, run_waterfall, run_waterfall_reference


def _same(a: WaterfallResult, b: WaterfallResult, scale: float) -> None:
    for name in WaterfallResult.__slots__:
        x, y = getattr(a, name), getattr(b, name)
        if x.dtype == bool:
            assert np.array_equal(x, y), name
        else:
            np.testing.assert_allclose(
                np.where(np.isinf(x), 0, x),
                np.where(np.isinf(y), 0, y),
                rtol=1e-9,
                atol=1e-9 * scale,
                err_msg=name,
            )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_loans=st.integers(1, 8),
    term=st.integers(2, 36),
    amort=st.sampled_from(["annuity", "linear", "bullet"]),
    advance=st.sampled_from([1.0, 0.95, 0.9, 0.8]),
    cpr=st.floats(0.0, 0.3),
    fee=st.floats(0.0, 0.01),
    split=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**31),
)
def test_oc_test_with_no_defaults_never_switches(
    n_loans: int,
    term: int,
    amort: str,
    advance: float,
    cpr: float,
    fee: float,
    split: float,
    seed: int,
) -> None:
    """With no defaults the notes amortise with the pool to the borrowing base, so the OC
    ratio stays at 1 / advance rate and a trigger at or below it never fails (the old test
    compared the pool after this month's amortisation with the notes before it)."""
    rng = np.random.default_rng(seed)
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": float(rng.uniform(1e5, 1e6)),
            "annual_rate": 0.08,
            "tenor_months": term,
            "amortization": amort,
            "pd": 0.05,
        }
        for i in range(n_loans)
    ]
    deal = deal_from_dict(
        {
            "pool": {"loans": loans, "prepayment_rate": cpr},
            "advance_rate": advance,
            "tranches": [
                {"name": "A", "attach": 1 - advance * split, "detach": 1.0, "coupon": 0.04},
                {"name": "B", "attach": 1 - advance, "detach": 1 - advance * split, "coupon": 0.06},
            ],
            "senior_fee_rate": fee,
            "principal_rule": "pro_rata",
            "triggers": {"oc_ratio": 1.0 / advance},
        }
    )
    sched = asset_schedules(deal.pool)
    cf = pool_cashflows_from_default_periods(sched, np.zeros((1, n_loans), dtype=np.int64))
    for wf in (run_waterfall(deal, cf), run_waterfall_reference(deal, cf)):
        assert not wf.oc_breached.any()
        assert not wf.sequential.any()
        assert wf.writedown.sum() == 0.0


def test_oc_080_with_no_defaults_stays_pro_rata() -> None:
    """The issue's case: OC trigger 0.8, no default -- pro rata to the end."""
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": 1e6,
            "annual_rate": 0.07,
            "tenor_months": 24,
            "amortization": "annuity",
        }
        for i in range(5)
    ]
    deal = deal_from_dict(
        {
            "pool": {"loans": loans},
            "principal_rule": "pro_rata",
            "tranches": [
                {"name": "A", "attach": 0.2, "detach": 1.0, "coupon": 0.03},
                {"name": "B", "attach": 0.0, "detach": 0.2, "coupon": 0.05},
            ],
            "triggers": {"oc_ratio": 0.8},
        }
    )
    cf = pool_cashflows_from_default_periods(
        asset_schedules(deal.pool), np.zeros((1, 5), dtype=np.int64)
    )
    wf = run_waterfall(deal, cf)
    assert not wf.sequential.any()
    np.testing.assert_allclose(
        wf.principal_paid[0, 1] / np.maximum(wf.principal_paid[0, 0], 1e-300), 0.25, rtol=1e-9
    )


def _hand_deal(call: float | None = 0.3) -> Any:
    """Three linear 5-month loans of 1,000 at 12 % (interest 1 % of the opening balance, 200 of
    principal a month), notes at 90 %: A 2,400 at 6 %, B 300 at 12 %; a fixed reserve of 30;
    pro rata with an OC trigger at 1.08; clean-up call at 30 % of the pool."""
    spec: dict[str, Any] = {
        "pool": {
            "loans": [
                {
                    "loan_id": f"L{i}",
                    "balance": 1000.0,
                    "annual_rate": 0.12,
                    "tenor_months": 5,
                    "amortization": "linear",
                    "recovery_rate": 0.5,
                }
                for i in range(1, 4)
            ]
        },
        "advance_rate": 0.9,
        "tranches": [
            {"name": "A", "balance": 2400.0, "coupon": 0.06},
            {"name": "B", "balance": 300.0, "coupon": 0.12},
        ],
        "reserve": {"initial": 30.0},
        "principal_rule": "pro_rata",
        "triggers": {"oc_ratio": 1.08},
    }
    if call is not None:
        spec["clean_up_call"] = call
    return deal_from_dict(spec)


def test_hand_computed_three_loan_deal_cash_flow_by_cash_flow() -> None:
    """L3 defaults in month 2 (balance 800, 50 % recovered at once). By hand:

    month 1: collections 30 + 600 = 630; interest A 12, B 3; notes paid to 90 % of the pool
      (2,160): 540 pro rata (A 480, B 60); OC 2,400 / 2,160 = 1.11 passes; residual 75.
    month 2: collections 16 + 400 + 400 (recovery) = 816; interest A 9.6, B 2.4; 804 pro rata
      towards the base of 1,080 (A 714.67, B 89.33): notes 1,356 against a pool of 1,200, the
      OC test fails (1,200 < 1.08 x 1,356) -> sequential from month 3; cover 1,200 + reserve
      30 = 1,230, so B is written down 126 (within the 400 credit loss) into its PDL.
    month 3: collections 12 + 400 = 412; interest A 6.026667, B 0.246667; 405.726667 of
      principal, all to A (sequential): A 799.606667; cover 830 >= notes 824.27, no loss
      (the OC test fails again: 800 < 1.08 x 824.27).
    month 4: the pool started the month at 800 <= 30 % x 3,000: the call. Collections 8 + 400,
      call proceeds 400, the reserve's 30 released: 838; interest A 3.998033, B 0.246667;
      both classes repaid (824.273333); 9.482 left cures B's PDL (116.518 remains), nothing
      to the residual. Month 5 is empty.
    """
    deal = _hand_deal()
    sched = asset_schedules(deal.pool)
    cf = pool_cashflows_from_default_periods(sched, np.array([[0, 0, 2]]))
    a2 = 1920 - 804 * 1920 / 2160
    b2 = 240 - 804 * 240 / 2160 - 126.0
    int_a3, int_b3 = a2 * 0.005, b2 * 0.01
    prin_a3 = 412 - int_a3 - int_b3
    a3 = a2 - prin_a3
    int_a4 = a3 * 0.005
    left4 = 408 + 400 + 30 - int_a4 - int_b3 - (a3 + b2)
    expected = {
        "collections": [630.0, 816.0, 412.0, 408.0, 0.0],
        "call_proceeds": [0.0, 0.0, 0.0, 400.0, 0.0],
        "reserve_end": [30.0, 30.0, 30.0, 0.0, 0.0],
        "residual": [75.0, 0.0, 0.0, 0.0, 0.0],
    }
    per_class = {
        "interest_paid": [[12.0, 9.6, int_a3, int_a4, 0.0], [3.0, 2.4, int_b3, int_b3, 0.0]],
        "principal_paid": [
            [480.0, 804 * 1920 / 2160, prin_a3, a3, 0.0],
            [60.0, 804 * 240 / 2160, 0.0, b2, 0.0],
        ],
        "writedown": [[0.0] * 5, [0.0, 126.0, 0.0, 0.0, 0.0]],
        "pdl_balance": [[0.0] * 5, [0.0, 126.0, 126.0, 126.0 - left4, 126.0 - left4]],
        "pdl_cure": [[0.0] * 5, [0.0, 0.0, 0.0, left4, 0.0]],
        "note_balance": [[1920.0, a2, a3, 0.0, 0.0], [240.0, b2, b2, 0.0, 0.0]],
    }
    assert left4 == pytest.approx(9.482, abs=1e-3)
    for wf in (run_waterfall(deal, cf), run_waterfall_reference(deal, cf)):
        for name, want in expected.items():
            np.testing.assert_allclose(getattr(wf, name)[0], want, atol=1e-9, err_msg=name)
        for name, want in per_class.items():
            np.testing.assert_allclose(getattr(wf, name)[0], want, atol=1e-9, err_msg=name)
        assert wf.oc_breached[0].tolist() == [False, True, True, False, False]
        assert wf.sequential[0].tolist() == [False, False, True, True, True]
        assert wf.called[0].tolist() == [False, False, False, True, False]
        assert np.abs(wf.cash_imbalance()).max() < 1e-9


def test_without_the_call_the_deal_runs_to_maturity() -> None:
    deal = _hand_deal(call=None)
    cf = pool_cashflows_from_default_periods(asset_schedules(deal.pool), np.array([[0, 0, 2]]))
    wf = run_waterfall(deal, cf)
    assert not wf.called.any()
    assert wf.call_proceeds.sum() == 0.0
    assert wf.collections[0, 4] == pytest.approx(4.0 + 400.0)


def test_written_down_class_is_cured_before_the_residual() -> None:
    """A loss writes B down; later excess spread reimburses B's PDL in full before the equity
    (residual) sees anything."""
    loans = [
        {
            "loan_id": f"L{i}",
            "balance": 1e5,
            "annual_rate": 0.12,
            "tenor_months": 24,
            "amortization": "bullet",
            "recovery_rate": 0.0,
        }
        for i in range(10)
    ]
    deal = deal_from_dict(
        {
            "pool": {"loans": loans},
            "tranches": [
                {"name": "A", "attach": 0.3, "detach": 1.0, "coupon": 0.02},
                {"name": "B", "attach": 0.0, "detach": 0.3, "coupon": 0.03},
            ],
        }
    )
    d = np.zeros((1, 10), dtype=np.int64)
    d[0, 0] = 3
    cf = pool_cashflows_from_default_periods(asset_schedules(deal.pool), d)
    for wf in (run_waterfall(deal, cf), run_waterfall_reference(deal, cf)):
        assert wf.writedown[0, 1].sum() > 0.0
        assert wf.pdl_cure[0, 1].sum() == pytest.approx(wf.writedown[0, 1].sum(), rel=1e-12)
        assert wf.pdl_balance[0, 1, 2] > 0.0  # written down in month 3
        cleared = 2 + int(np.argmax(wf.pdl_balance[0, 1, 2:] <= 1e-9))
        assert cleared > 3
        assert (wf.residual[0, 2:cleared] == 0.0).all()
        assert wf.residual[0, cleared:].sum() > 0.0


def test_reserve_release_enters_the_waterfall_and_pays_interest_before_equity() -> None:
    """A trapped reserve released once the DSCR recovers pays a carried interest shortfall
    (top of the waterfall), not the residual."""
    n_periods = 4
    inte = np.array([[500.0, 0.0, 3000.0, 0.0]])
    z = np.zeros((1, n_periods))
    bal = np.full((1, n_periods), 1.2e6)
    bal[:, -1] = 0.0
    prin = np.zeros((1, n_periods))
    prin[:, -1] = 1.2e6
    cf = PoolCashflows(inte, prin, z, z, z, bal, z, 1.2e6, np.ones(1))
    deal = deal_from_dict(
        {
            "pool": {
                "loans": [
                    {
                        "loan_id": "L",
                        "balance": 1.2e6,
                        "annual_rate": 0.01,
                        "tenor_months": n_periods,
                        "amortization": "bullet",
                    }
                ]
            },
            "tranches": [{"name": "A", "balance": 1.2e5, "coupon": 0.01}],  # 100 a month
            "triggers": {
                "dscr_window": 1,
                "dscr": [{"action": "trap", "tiers": [{"threshold": 6.0, "fraction": 1.0}]}],
            },
        }
    )
    for wf in (run_waterfall(deal, cf), run_waterfall_reference(deal, cf)):
        # month 1: DSCR 5 < 6 traps the 400 of excess; month 2: nothing collected, the trapped
        # cash pays the coupon; month 3: DSCR 30 releases the rest at the top, it reaches the
        # residual only after the month's coupon
        np.testing.assert_allclose(wf.reserve_end[0, :3], [400.0, 300.0, 0.0])
        np.testing.assert_allclose(wf.interest_paid[0, 0, :3], [100.0, 100.0, 100.0])
        assert wf.residual[0, 2] == pytest.approx(3000.0 - 100.0 + 300.0)
        assert np.abs(wf.cash_imbalance()).max() < 1e-9


def test_dscr_reads_a_trailing_window_of_payment_dates() -> None:
    """A quarterly payer's empty months do not trip the test: the DSCR sums collections and
    debt service over the last three payment dates."""
    n_periods = 6
    inte = np.array([[900.0, 0.0, 0.0, 900.0, 0.0, 0.0]])
    z = np.zeros((1, n_periods))
    bal = np.full((1, n_periods), 1.2e6)
    bal[:, -1] = 0.0
    prin = np.zeros((1, n_periods))
    prin[:, -1] = 1.2e6
    cf = PoolCashflows(inte, prin, z, z, z, bal, z, 1.2e6, np.ones(1))
    spec = {
        "pool": {
            "loans": [
                {
                    "loan_id": "L",
                    "balance": 1.2e6,
                    "annual_rate": 0.01,
                    "tenor_months": n_periods,
                    "amortization": "bullet",
                }
            ]
        },
        "tranches": [{"name": "A", "balance": 1.2e5, "coupon": 0.01}],
        "triggers": {"rapid_amortisation_dscr": 1.2},
    }
    wf = run_waterfall(deal_from_dict(spec), cf)
    np.testing.assert_allclose(wf.dscr[0], [9.0, 4.5, 3.0, 3.0, 3.0, 3.0])
    assert not wf.rapid_amortisation.any()
    spec["triggers"]["dscr_window"] = 1
    wf1 = run_waterfall(deal_from_dict(spec), cf)
    assert wf1.rapid_amortisation[0, 1]  # one month read alone: rapid amortisation at once
