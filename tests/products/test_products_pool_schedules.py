"""Booked loans in the pool: each on its own schedule (credit.loans), taken at its
outstanding balance on the cut-off date; collections follow the real payments."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit.loans import schedule
from products.pool_cashflows import pool_cashflows_from_default_periods, pool_cashflows_reference
from products.scenarios import copula_default_periods
from products.schedules import asset_schedules
from products.spec import deal_from_dict
from products.tranches import analyze_deal
from products.waterfall import run_waterfall, run_waterfall_reference
from valuation.conventions import add_months
from valuation.errors import ConventionError
from valuation.market import default_curve

CUT_OFF = date(2025, 3, 10)
TRANCHES = [
    {"name": "A", "attach": 0.2, "detach": 1.0, "coupon": 0.03},
    {"name": "E", "attach": 0.0, "detach": 0.2, "coupon": 0.06},
]
QUARTERLY = {
    "loan_id": "Q",
    "principal": 1e6,
    "annual_rate": 0.06,
    "start_date": "2024-11-15",
    "tenor_months": 24,
    "frequency_months": 3,
    "day_count": "ACT/360",
    "amortization": "linear",
    "calendar": "China",
    "pd": 0.03,
}


def booked_deal(loans: list[dict[str, Any]], cut_off: date = CUT_OFF, **pool: Any) -> Any:
    return deal_from_dict(
        {
            "pool": {"loans": loans, "cut_off_date": cut_off.isoformat(), **pool},
            "tranches": TRANCHES,
        }
    )


def deal_month(d: date, cut_off: date = CUT_OFF) -> int:
    m = 0
    while add_months(cut_off, m) < d:
        m += 1
    return m


def test_a_quarterly_loan_collects_only_in_its_payment_months() -> None:
    deal = booked_deal([QUARTERLY])
    sched = asset_schedules(deal.pool)
    # reference: the loan's own schedule from credit.loans (Modified Following on China's
    # calendar, ACT/360 on the adjusted dates)
    ref = schedule(1e6, 0.06, "2024-11-15", 24, "linear", 3, "ACT/360", "China")
    after = ref[ref.date > CUT_OFF]
    months = [deal_month(d) for d in after.date]
    assert months == [3, 6, 9, 12, 15, 18, 21]  # 2026-02-24 (Spring Festival) is still month 12
    paid = sched.interest[0] + sched.principal[0]
    np.testing.assert_array_equal(np.nonzero(paid)[0], months)
    np.testing.assert_allclose(sched.interest[0, months], after.interest, rtol=1e-13)
    np.testing.assert_allclose(sched.principal[0, months], after.principal, rtol=1e-13)
    # taken at its balance after the 2025-02-17 payment, the one before the cut-off
    assert sched.balance[0, 0] == pytest.approx(float(ref.balance.iloc[0]), rel=1e-15)
    assert sched.tenor_months[0] == 21
    assert deal.pool_balance == pytest.approx(875_000.0, rel=1e-15)


def test_cash_is_conserved_with_booked_loans_and_defaults() -> None:
    loans = [dict(QUARTERLY, loan_id=f"Q{i}", principal=1e6 * (1 + i)) for i in range(3)]
    loans += [
        {
            "loan_id": f"M{i}",
            "principal": 5e5,
            "annual_rate": 0.05,
            "start_date": "2025-01-20",
            "tenor_months": 12,
            "amortization": ("annuity", "bullet")[i % 2],
            "day_count": "30/360",
            "pd": 0.2,
        }
        for i in range(3)
    ]
    loans.append(
        {
            "loan_id": "S",
            "principal": 2e6,
            "annual_rate": 0.07,
            "start_date": "2023-03-10",
            "tenor_months": 36,
            "frequency_months": 6,
            "amortization": "annuity",
            "pd": 0.1,
        }
    )
    deal = booked_deal(loans, recovery_lag_months=2, prepayment_rate=0.05)
    sched = asset_schedules(deal.pool)
    # each loan's balance falls by exactly the principal it pays; no payment after its term
    np.testing.assert_allclose(
        sched.balance[:, :-1] - sched.balance[:, 1:],
        sched.principal[:, 1:] + sched.prepayment[:, 1:],
        atol=1e-7,
    )
    for i, t in enumerate(sched.tenor_months):
        assert sched.balance[i, t] == 0.0
        assert not sched.interest[i, t + 1 :].any()
    # the semi-annual loan started three years before: its final payment in month 0 of the
    # schedule (2026-03-10) is the deal's month 12
    assert sched.tenor_months[-1] == 12
    d = copula_default_periods(sched, 0.3, 40, np.random.default_rng(4))
    cf = pool_cashflows_from_default_periods(sched, d)
    ref = pool_cashflows_reference(sched, d)
    for f in (
        "interest",
        "scheduled_principal",
        "prepayments",
        "defaults",
        "recoveries",
        "balance",
    ):
        np.testing.assert_allclose(getattr(cf, f), getattr(ref, f), atol=1e-6)
    wf = run_waterfall(deal, cf)
    assert np.abs(wf.cash_imbalance()).max() < 1e-6
    wf_ref = run_waterfall_reference(deal, cf)
    np.testing.assert_allclose(wf.writedown, wf_ref.writedown, atol=1e-6)
    # without defaults the pool pays exactly the loans' scheduled cash after the cut-off
    none = pool_cashflows_from_default_periods(sched, np.zeros((1, sched.n_assets), dtype=np.int64))
    nopp = asset_schedules(booked_deal(loans).pool)
    total = sum(
        float(
            schedule(
                x["principal"],
                x["annual_rate"],
                x["start_date"],
                x["tenor_months"],
                x["amortization"],
                x.get("frequency_months", 1),
                x.get("day_count", "ACT/365F"),
                x.get("calendar"),
            )
            .query("date > @CUT_OFF")[["interest", "principal"]]
            .to_numpy()
            .sum()
        )
        for x in loans
    )
    assert float(nopp.interest.sum() + nopp.principal.sum()) == pytest.approx(total, rel=1e-13)
    assert none.collections.sum() > 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    freq=st.sampled_from([1, 3, 6, 12]),
    periods=st.integers(1, 8),
    amort=st.sampled_from(["annuity", "linear", "bullet"]),
    day_count=st.sampled_from(["ACT/365F", "ACT/360", "30/360", "ACT/ACT"]),
    age_days=st.integers(0, 400),
    rate=st.floats(0.0, 0.2),
)
def test_booked_loan_collections_add_up_to_its_outstanding_balance(
    freq: int, periods: int, amort: str, day_count: str, age_days: int, rate: float
) -> None:
    start = CUT_OFF - timedelta(days=age_days)
    tenor = freq * periods
    ref = schedule(1e6, rate, start, tenor, amort, freq, day_count)
    after = ref[ref.date > CUT_OFF]
    loan = {
        "loan_id": "L",
        "principal": 1e6,
        "annual_rate": rate,
        "start_date": start.isoformat(),
        "tenor_months": tenor,
        "frequency_months": freq,
        "day_count": day_count,
        "amortization": amort,
    }
    if after.empty:
        with pytest.raises(ConventionError) as err:
            booked_deal([loan])
        assert err.value.field == "pool.loans[0]"
        return
    sched = asset_schedules(booked_deal([loan]).pool)
    outstanding = (
        float(ref[ref.date <= CUT_OFF].balance.iloc[-1]) if (ref.date <= CUT_OFF).any() else 1e6
    )
    assert sched.balance[0, 0] == pytest.approx(outstanding, rel=1e-12)
    assert sched.principal[0].sum() == pytest.approx(outstanding, rel=1e-12)
    assert sched.interest[0].sum() == pytest.approx(
        float(after.interest.sum()), rel=1e-12, abs=1e-9
    )
    paying = sorted({deal_month(x) for x in after.date})
    assert set(np.nonzero(sched.interest[0] + sched.principal[0])[0]) <= set(paying)


def test_booked_loan_errors_name_the_field() -> None:
    cases = [
        ({"pool": {"loans": [QUARTERLY]}}, "pool.cut_off_date"),
        (
            {"pool": {"loans": [QUARTERLY], "cut_off_date": "2024-11-01"}},
            "pool.loans[0].start_date",
        ),
        ({"pool": {"loans": [QUARTERLY], "cut_off_date": "2027-01-01"}}, "pool.loans[0]"),
        (
            {"pool": {"loans": [dict(QUARTERLY, tenor_months=20)], "cut_off_date": "2025-03-10"}},
            "pool.loans[0].tenor_months",
        ),
        (
            {
                "pool": {
                    "loans": [dict(QUARTERLY, frequency_months=2)],
                    "cut_off_date": "2025-03-10",
                }
            },
            "pool.loans[0].frequency_months",
        ),
        (
            {
                "pool": {
                    "loans": [dict(QUARTERLY, day_count="ACT/366")],
                    "cut_off_date": "2025-03-10",
                }
            },
            "pool.loans[0].day_count",
        ),
        (
            {
                "pool": {
                    "loans": [dict(QUARTERLY, start_date="2024-13-01")],
                    "cut_off_date": "2025-03-10",
                }
            },
            "pool.loans[0].start_date",
        ),
        ({"pool": {"loans": [QUARTERLY], "cut_off_date": "someday"}}, "pool.cut_off_date"),
    ]
    for spec, field in cases:
        with pytest.raises(ConventionError) as err:
            deal_from_dict({**spec, "tranches": TRANCHES})
        assert err.value.field == field, (spec, err.value)


def test_pricing_runs_from_the_cut_off_date() -> None:
    deal = booked_deal([dict(QUARTERLY, loan_id=f"Q{i}") for i in range(10)])
    res = analyze_deal(deal, market=default_curve(CUT_OFF, "CNY", 0.02), method="cdr", cdr=0.0)
    assert res.by_name("A").expected_loss == 0.0
    # the senior class repays quarterly, in the loans' payment months (cut-off + 3, 6, ...)
    paid = np.nonzero(res.expected_cashflows[0] > 1e-6)[0] + 1
    assert set(paid) <= {3, 6, 9, 12, 15, 18, 21}
    with pytest.raises(ConventionError) as err:
        analyze_deal(
            deal, market=default_curve(date(2025, 4, 1), "CNY", 0.02), method="cdr", cdr=0.0
        )
    assert err.value.field == "as_of"


def test_a_timing_shortfall_without_defaults_is_cured_not_written_down() -> None:
    # The loan's first payment, due 2026-02-01 (a Sunday), is paid on 2026-02-02: deal
    # month 2. Month 2 then owes two months of note interest and fees against one month of
    # loan interest, so principal collections pay the difference and the cover falls
    # below the notes. With no defaults that is a principal deficiency, not a credit loss:
    # later excess spread cures it and every class, the equity too, is repaid in full.
    cut_off = date(2026, 1, 1)
    loan = {
        "loan_id": "M",
        "principal": 1e6,
        "annual_rate": 0.03,
        "start_date": cut_off.isoformat(),
        "tenor_months": 12,
        "amortization": "annuity",
        "day_count": "ACT/365F",
        "calendar": "China",
        "pd": 0.05,
    }
    deal = deal_from_dict(
        {
            "pool": {"loans": [loan], "cut_off_date": cut_off.isoformat()},
            "tranches": [
                {"name": "A", "attach": 0.1, "detach": 1.0, "coupon": 0.02},
                {"name": "E", "attach": 0.0, "detach": 0.1, "coupon": 0.0, "equity": True},
            ],
            "senior_fee_rate": 0.005,
        }
    )
    sched = asset_schedules(deal.pool)
    assert sched.interest[0, 1] == 0.0
    assert sched.interest[0, 2] > 0.0
    cf = pool_cashflows_from_default_periods(sched, np.zeros((1, sched.n_assets), dtype=np.int64))
    for wf in (run_waterfall(deal, cf), run_waterfall_reference(deal, cf)):
        np.testing.assert_array_equal(wf.writedown, 0.0)
        np.testing.assert_allclose(
            wf.principal_paid[0].sum(axis=1), [t.balance for t in deal.tranches], rtol=1e-12
        )
        np.testing.assert_allclose(wf.cash_imbalance(), 0.0, atol=1e-6)
    # with a default, the credit loss itself is still written down from the bottom
    cf_d = pool_cashflows_from_default_periods(
        sched, np.full((1, sched.n_assets), 4, dtype=np.int64)
    )
    wf_d = run_waterfall(deal, cf_d)
    assert wf_d.writedown[0, 1].sum() > 0.0
    np.testing.assert_allclose(
        wf_d.writedown, run_waterfall_reference(deal, cf_d).writedown, atol=1e-6
    )


def test_a_loan_tenor_is_tenor_months_and_the_former_name_still_reads() -> None:
    """One loan vocabulary: ``tenor_months`` in every layer; ``term_months`` (stored specs
    written before) is read as it, and giving both is an error naming the field."""
    old = {k: v for k, v in QUARTERLY.items() if k != "tenor_months"} | {"term_months": 24}
    assert booked_deal([old]).pool.loans[0].tenor_months == 24
    both = dict(QUARTERLY, term_months=24)
    with pytest.raises(ConventionError) as err:
        booked_deal([both])
    assert err.value.field == "pool.loans[0].term_months"
