"""Shock application: identities, closed forms and QuantLib as the oracle for curve shifts."""

from __future__ import annotations

import numpy as np
import pytest
import QuantLib as ql
from scipy.special import ndtr, ndtri

from risk.kernels import economic_lgd_from_quantiles
from risk.scenarios import RightsEvent, Shocks
from risk.shocks import (
    revenue_factors,
    shifted_discount_factors,
    shock_revenue_paths,
    stress_correlation,
    stress_lgd,
    stress_pd,
    zero_shift,
)


def test_key_rate_and_parallel_shifts_match_quantlib_spreaded_curve() -> None:
    # Oracle: QuantLib's PiecewiseZeroSpreadedTermStructure (linear spreads between the
    # spread dates, flat outside, continuous compounding) over a flat 3 % curve.
    ref = ql.Date(15, ql.January, 2026)
    saved = ql.Settings.instance().evaluationDate
    ql.Settings.instance().evaluationDate = ref
    try:
        dc = ql.Actual365Fixed()
        base = ql.FlatForward(ref, 0.03, dc, ql.Continuous)
        keys = {"1Y": 25.0, "5Y": 60.0, "10Y": -10.0}
        parallel = 100.0
        dates = [
            ref + ql.Period(1, ql.Years),
            ref + ql.Period(5, ql.Years),
            ref + ql.Period(10, ql.Years),
        ]
        # the key tenors as times exactly as the shift function reads them
        quotes = [ql.QuoteHandle(ql.SimpleQuote((parallel + v) / 1e4)) for v in keys.values()]
        spreaded = ql.PiecewiseZeroSpreadedTermStructure(
            ql.YieldTermStructureHandle(base), quotes, dates, ql.Continuous, ql.Annual, dc
        )
        spreaded.enableExtrapolation()
        pay = [ref + ql.Period(m, ql.Months) for m in range(1, 181)]
        t = np.array([dc.yearFraction(ref, d) for d in pay])
        df = np.array([base.discount(d) for d in pay])
        expected = np.array([spreaded.discount(d) for d in pay])
        # QuantLib's pillars sit at ACT/365F times of the dates (1.0, 5.0027..., 10.0055...);
        # feed the same times to our interpolation through tenors in days.
        tk = {f"{dc.dayCount(ref, d)}D": v for d, v in zip(dates, keys.values(), strict=True)}
        got = shifted_discount_factors(df, t, Shocks(rate_shift_bp=parallel, key_rate_shifts_bp=tk))
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    finally:
        ql.Settings.instance().evaluationDate = saved


def test_absent_shocks_are_the_identity() -> None:
    df = np.exp(-0.02 * np.arange(1, 13) / 12)
    t = np.arange(1, 13) / 12
    assert shifted_discount_factors(df, t, Shocks()) is df
    assert zero_shift(t, Shocks(rate_shift_bp=0.0)) is None
    pd_ = np.array([0.01, 0.2])
    assert np.array_equal(stress_pd(pd_, Shocks(), np.ones(2), np.ones(2)), pd_)
    lgd = np.array([0.4, 0.9])
    assert np.array_equal(stress_lgd(lgd, Shocks()), lgd)
    assert revenue_factors(["consumer"], np.array([True]), Shocks()) is None


def test_downturn_lgd_adds_fifteen_points_capped() -> None:
    out = stress_lgd(np.array([0.40, 0.95]), Shocks(downturn_lgd=True))
    np.testing.assert_allclose(out, [0.55, 1.0], rtol=0, atol=1e-15)
    out = stress_lgd(np.array([0.40]), Shocks(lgd_add=-0.5))
    assert out[0] == 0.0


def test_pd_shift_is_the_distance_to_default_move() -> None:
    p = np.array([0.02])
    got = stress_pd(p, Shocks(pd_multiplier=2.0), np.array([0.8]), np.array([0.25]))
    expected = 2.0 * ndtr(ndtri(0.02) - np.log(0.8) / 0.25)
    assert got[0] == pytest.approx(expected, rel=1e-14)
    assert stress_pd(np.array([0.5]), Shocks(pd_multiplier=3.0))[0] == 1.0


def test_rights_events_hit_only_assets_whose_right_changes() -> None:
    shocks = Shocks(
        revenue_multiplier=0.9,
        revenue_multiplier_by_category={"consumer": 0.5},
        rights_events=(RightsEvent("consumer", False, 0.6),),
    )
    f = revenue_factors(
        ["consumer", "consumer", "industrial"], np.array([True, False, True]), shocks
    )
    np.testing.assert_allclose(f, [0.9 * 0.5 * 0.6, 0.9 * 0.5, 0.9], rtol=1e-15)


def test_correlation_is_kept_in_range() -> None:
    assert stress_correlation(0.98, Shocks(correlation_shift=0.05)) == pytest.approx(0.999)
    assert stress_correlation(0.02, Shocks(correlation_shift=-0.05)) == 0.0


def test_given_paths_keep_their_mean_under_a_volatility_shock() -> None:
    rng = np.random.default_rng(3)
    paths = np.exp(rng.normal(0.0, 0.3, size=(4000, 12))) * 100.0
    out = shock_revenue_paths(
        paths,
        Shocks(volatility_multiplier=2.0),
        level_factor=1.0,
        half_life_months=np.inf,
        uniforms=rng.random(4000),
    )
    np.testing.assert_allclose(out.mean(axis=0), paths.mean(axis=0), rtol=1e-12)
    assert np.all(np.log(out).std(axis=0) > 1.9 * np.log(paths).std(axis=0))
    grown = shock_revenue_paths(
        paths,
        Shocks(growth_shift=0.12, half_life_multiplier=0.5),
        level_factor=0.5,
        half_life_months=12.0,
        uniforms=rng.random(4000),
    )
    k = np.arange(1, 13)
    factor = 0.5 * np.exp(0.12 * k / 12) * 0.5 ** (k / 6.0 - k / 12.0)
    np.testing.assert_allclose(grown, paths * factor, rtol=1e-13)


def test_economic_lgd_closed_forms() -> None:
    # constant recovery R: LGD = 1 - R/EAD whatever the PD
    q = np.full((1, 24), 60.0)
    assert economic_lgd_from_quantiles(q, np.array([100.0]), np.array([0.03]))[0] == pytest.approx(
        0.4
    )
    # recovery linear in u on [0, 1] (uniform collateral R(u) = 100 u on our levels):
    # E[1 - R(U)/100 | U < p] = 1 - p/2 for p on a level
    from risk.inputs import QUANTILE_LEVELS

    q = (100.0 * QUANTILE_LEVELS)[None, :]
    for p in (0.05, 0.2, 0.5):
        got = economic_lgd_from_quantiles(q, np.array([100.0]), np.array([p]))[0]
        # below the first level the integrand is flat at its first value
        u0 = QUANTILE_LEVELS[0]
        exact = (u0 * (1 - u0) + (p - u0) - (p**2 - u0**2) / 2) / p
        assert got == pytest.approx(exact, rel=1e-12)


def test_economic_lgd_from_quantiles_is_credits_economic_lgd_on_the_worst_paths() -> None:
    """The stress engine's quantile form and `credit.lgd.economic_lgd` are one definition."""
    from credit.lgd import economic_lgd

    rng = np.random.default_rng(8)
    recovery = 80.0 * np.exp(0.6 * rng.standard_normal(400_000) - 0.18)  # collateral, net
    ead, pd_ = 100.0, 0.08
    worst = recovery <= np.quantile(recovery, pd_)  # default on the worst PD of outcomes
    paths = economic_lgd(ead, recovery, worst, liquidation_cost=0.0).lgd
    levels = np.linspace(0.0001, 0.9999, 9_999)
    q = np.quantile(recovery, levels)[None, :]
    got = economic_lgd_from_quantiles(q, np.array([ead]), np.array([pd_]), levels)[0]
    assert got == pytest.approx(paths, rel=2e-3)
