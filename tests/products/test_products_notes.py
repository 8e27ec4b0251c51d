"""Data-revenue notes: closed forms for the payoff, the default leg and the yield."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from products.notes import DataRevenueNote, price_data_note
from valuation.conventions import add_months
from valuation.errors import ConventionError
from valuation.market import default_curve

AS_OF = date(2025, 3, 1)


def test_no_default_price_is_the_discounted_capped_floored_share() -> None:
    rng = np.random.default_rng(0)
    rev = rng.lognormal(mean=math.log(1e5), sigma=0.5, size=(500, 24))
    note = DataRevenueNote(share=0.2, term_months=18, cap=25_000.0, floor=10_000.0)
    market = default_curve(AS_OF, "CNY", 0.03)
    res = price_data_note(note, rev, market=market, seed=3)
    df = market.discount_factors([add_months(AS_OF, m) for m in range(1, 19)])
    pay = np.clip(0.2 * rev[:, :18], 10_000.0, 25_000.0)
    assert res.price == pytest.approx(float((pay @ df).mean()), rel=1e-12)
    assert res.distribution["p05"] <= res.distribution["p50"] <= res.distribution["p95"]
    assert res.default_probability == 0.0
    assert res.seed == 3
    assert res.n_paths == 500


def test_issuer_default_leg_matches_closed_form_within_four_standard_errors() -> None:
    # constant revenue c: E[V] = sum_m c DF_m S(m/12) + R sum_d P(default in month d) sum_{m>=d} c DF_m
    c, h, rec, n = 1_000.0, 0.3, 0.4, 36
    note = DataRevenueNote(share=1.0, term_months=n, issuer_hazard=h, recovery_rate=rec)
    market = default_curve(AS_OF, "CNY", 0.02)
    res = price_data_note(note, np.full((200_000, n), c), market=market, seed=9)
    df = market.discount_factors([add_months(AS_OF, m) for m in range(1, n + 1)])
    m = np.arange(1, n + 1)
    surv = np.exp(-h * m / 12.0)
    p_def = np.exp(-h * (m - 1) / 12.0) - surv
    tail = np.cumsum((c * df)[::-1])[::-1]
    exact = float(c * df @ surv + rec * p_def @ tail)
    assert abs(res.price - exact) <= 4 * res.std_error
    assert res.default_probability == pytest.approx(1 - math.exp(-h * 3), rel=1e-12)


def test_yield_rises_with_issuer_hazard_and_equals_the_curve_without_it() -> None:
    rev = np.full((2000, 24), 5_000.0)
    market = default_curve(AS_OF, "CNY", 0.04)
    base = price_data_note(DataRevenueNote(share=0.5, term_months=24), rev, market=market, seed=1)
    risky = price_data_note(
        DataRevenueNote(share=0.5, term_months=24, issuer_hazard=0.1), rev, market=market, seed=1
    )
    # monthly-compounded equivalent of 4 % annual on ~1/12-year months
    assert base.yield_rate == pytest.approx(12 * (1.04 ** (1 / 12) - 1), abs=2e-4)
    assert risky.price < base.price
    assert risky.yield_rate > base.yield_rate + 0.03


@settings(max_examples=30, deadline=None)
@given(share=st.floats(0.01, 1.0), k=st.floats(0.1, 10.0))
def test_price_is_homogeneous_in_revenue(share: float, k: float) -> None:
    rev = np.random.default_rng(2).lognormal(8.0, 0.3, size=(50, 12))
    note = DataRevenueNote(share=share, term_months=12, issuer_hazard=0.05)
    m = default_curve(AS_OF, "CNY", 0.03)
    a = price_data_note(note, rev, market=m, seed=4).price
    b = price_data_note(note, k * rev, market=m, seed=4).price
    assert b == pytest.approx(k * a, rel=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"share": 0.0, "term_months": 12}, "share"),
        ({"share": 0.5, "term_months": 0}, "term_months"),
        ({"share": 0.5, "term_months": 12, "cap": 10.0, "floor": 20.0}, "floor"),
        ({"share": 0.5, "term_months": 12, "issuer_hazard": -0.1}, "issuer_hazard"),
        ({"share": 0.5, "term_months": 12, "recovery_rate": 1.5}, "recovery_rate"),
    ],
)
def test_bad_terms_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConventionError) as err:
        DataRevenueNote(**kwargs)
    assert err.value.field == field


def test_too_few_revenue_months_rejected() -> None:
    with pytest.raises(ConventionError) as err:
        price_data_note(
            DataRevenueNote(share=0.5, term_months=24),
            np.ones((5, 12)),
            market=default_curve(AS_OF, "CNY", 0.02),
            seed=0,
        )
    assert err.value.field == "revenue"


# --- gross revenue, limited recourse, revenue-linked default, no overflow -------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    share=st.floats(5e-324, 1.0, exclude_min=False),
    term=st.integers(1, 600),
    cap=st.none() | st.floats(0.0, 1e15),
    floor=st.none() | st.floats(0.0, 1e15),
    hazard=st.sampled_from([0.0, 5e-324, 1e-300, 1e-19, 1e-6]) | st.floats(0.0, 10.0),
    recovery=st.floats(0.0, 1.0),
    threshold=st.floats(0.0, 1.0),
    scale=st.floats(0.0, 1e9),
    kappa=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32),
)
def test_no_overflow_and_bounded_by_the_income_cash_flow(
    share, term, cap, floor, hazard, recovery, threshold, scale, kappa, seed
) -> None:
    if cap is not None and floor is not None and floor > cap:
        floor, cap = cap, floor
    rng = np.random.default_rng(seed)
    months = term + 6
    rev = scale * rng.lognormal(0.0, 0.5, size=(16, months))
    note = DataRevenueNote(
        share=share,
        term_months=term,
        cap=cap,
        floor=floor,
        issuer_hazard=hazard,
        recovery_rate=recovery,
        default_threshold=threshold,
    )
    df = (1.0 + 0.12) ** (-np.arange(1, months + 1) / 12.0)
    income = kappa * rev
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is harmless
        res = price_data_note(
            note,
            rev,
            market=default_curve(date(2025, 1, 1), "CNY", 0.02),
            seed=seed,
            available=income,
            discount_factors=df,
        )
    assert math.isfinite(res.price)
    assert math.isfinite(res.std_error)
    assert all(math.isfinite(v) for v in res.distribution.values())
    assert 0.0 <= res.price <= float((income @ df).mean()) * (1 + 1e-12) + 1e-9
    assert 0.0 <= res.default_probability <= 1.0


def test_a_tiny_hazard_is_no_default() -> None:
    """The issue's case: hazard 1e-19 priced 132.8 against 1,200 promised (int64 overflow)."""
    rev = np.full((400, 12), 1000.0)
    m = default_curve(date(2025, 1, 1), "CNY", 0.0)
    for h in (1e-19, 5e-324):
        res = price_data_note(
            DataRevenueNote(share=0.1, term_months=12, issuer_hazard=h), rev, market=m, seed=1
        )
        assert res.price == pytest.approx(1200.0, rel=1e-12)


def test_full_revenue_note_never_above_the_income_value_on_the_valuation_paths() -> None:
    """A note on 100 % of gross revenue, no cap, over the whole simulated life, on the
    valuation engine's own paths and discount factors: at most the income value (the mean of
    the simulation's path values), and equal to it when nothing limits it."""
    from samples.data_assets import generate_samples
    from valuation import AssetProfile, value_asset

    samples = generate_samples(20240601)
    sample = samples.assets[0]
    val = value_asset(
        sample.signals,
        sample.costs,
        samples.comparables,
        AssetProfile.from_mapping(sample.profile),
        samples.as_of,
        default_curve(samples.as_of, "CNY", 0.02),
        400,
        5,
    )
    sim = val.simulation
    assert sim is not None
    note = DataRevenueNote(share=1.0, term_months=sim.months, recovery_rate=0.0)
    res = price_data_note(
        note,
        sim.gross_revenue(),
        market=default_curve(samples.as_of, "CNY", 0.02),
        seed=2,
        available=sim.revenue,
        discount_factors=sim.discount_factors,
    )
    income_value = float(sim.values.mean())
    assert res.price == pytest.approx(income_value, rel=1e-9)  # limited to the income cash flow
    risky = price_data_note(
        DataRevenueNote(
            share=1.0, term_months=sim.months, issuer_hazard=0.2, default_threshold=0.5
        ),
        sim.gross_revenue(),
        market=default_curve(samples.as_of, "CNY", 0.02),
        seed=2,
        available=sim.revenue,
        discount_factors=sim.discount_factors,
    )
    assert risky.price < income_value
    # the old basis (after-cost cash at a 2 % curve) priced far above the asset's value
    old = price_data_note(
        note, sim.revenue, market=default_curve(samples.as_of, "CNY", 0.02), seed=2
    )
    assert old.price > income_value
